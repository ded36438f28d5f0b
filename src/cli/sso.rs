//! `muster idp` and `muster introspector`: a tenant's identity providers, checked against the
//! provider before anything is stored, and the IdP tokens it accepts as credentials.

use super::tenant::OnOff;
use super::{block_on, open, tenant_named};
use crate::config::Config;
use crate::sso::{idp, introspect};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum IdpCmd {
    /// Add an identity provider. Its settings are checked against the provider first.
    Add {
        tenant: String,
        #[command(subcommand)]
        kind: IdpKindCmd,
    },
    /// List a tenant's identity providers (never their secrets).
    List { tenant: String },
    /// Remove an identity provider; the users it signed in stay.
    Remove { tenant: String, slug: String },
    /// Show the login button again and accept its responses.
    Enable { tenant: String, slug: String },
    /// Hide the login button and refuse its responses.
    Disable { tenant: String, slug: String },
    /// Set which claims or attributes fill a User attribute, first present wins
    /// (userName, email, givenName, familyName, displayName, groups). No claims: the default.
    Map {
        tenant: String,
        slug: String,
        attribute: String,
        claims: Vec<String>,
    },
    /// Choose how a first sign-in finds an existing user: email (an address the provider
    /// verified; the default), userName (a directory you run, where people cannot choose
    /// their name) or claim:<name> (an immutable id such as Entra's oid, matched against the
    /// SCIM externalId). Nothing else links.
    Link {
        tenant: String,
        slug: String,
        /// email, userName or claim:<name>; unchanged when left out.
        by: Option<String>,
        /// Vouch for every address the provider sends (on), or only those it marks
        /// verified (off).
        #[arg(long)]
        trust_email: Option<OnOff>,
    },
}

/// How a new provider links, as given on the command line.
#[derive(clap::Args)]
pub struct LinkArgs {
    /// email (the default), userName or claim:<name>; see `muster idp link`.
    #[arg(long, default_value = "email")]
    link_by: String,
    /// Vouch for the email addresses this IdP sends (a directory your organisation runs,
    /// such as Entra ID or Okta): they may then link existing accounts by email and are
    /// stored on users it creates. SAML itself cannot say an address was verified.
    #[arg(long)]
    trust_email: bool,
}

impl LinkArgs {
    fn linking(self) -> anyhow::Result<idp::Linking> {
        Ok(idp::Linking {
            by: self.link_by.parse().map_err(anyhow::Error::msg)?,
            trust_email: self.trust_email,
        })
    }
}

#[derive(Subcommand)]
pub enum IdpKindCmd {
    /// An OpenID Connect provider (Okta, Entra ID, Google, Keycloak, ...). Its redirect URI is
    /// <public url>/t/<tenant>/sso/<slug>/callback.
    Oidc {
        #[arg(long)]
        slug: String,
        /// The name on the login button ("Log in with <title>").
        #[arg(long)]
        title: String,
        /// The issuer URL; its /.well-known/openid-configuration must answer.
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// Also read from MUSTER_IDP_CLIENT_SECRET, which keeps it out of shell history.
        #[arg(long, env = "MUSTER_IDP_CLIENT_SECRET", hide_env_values = true)]
        client_secret: String,
        /// Scopes besides openid.
        #[arg(long, value_delimiter = ',', default_value = "email,profile")]
        scopes: Vec<String>,
        #[command(flatten)]
        link: LinkArgs,
    },
    /// A SAML 2.0 provider (Entra ID, Okta, ADFS, ...). Give it muster's SP metadata at
    /// <public url>/t/<tenant>/sso/<slug>/metadata; its ACS is .../sso/<slug>/acs.
    Saml {
        #[arg(long)]
        slug: String,
        /// The name on the login button ("Log in with <title>").
        #[arg(long)]
        title: String,
        /// The IdP's metadata XML, from a file...
        #[arg(
            long,
            conflicts_with = "metadata_url",
            required_unless_present = "metadata_url"
        )]
        metadata_file: Option<std::path::PathBuf>,
        /// ...or from a URL.
        #[arg(long)]
        metadata_url: Option<String>,
        /// Accept sign-ins started at the IdP (unsolicited responses). Off by default: they
        /// cannot be tied to the browser that receives them.
        #[arg(long)]
        allow_idp_initiated: bool,
        #[command(flatten)]
        link: LinkArgs,
    },
}

#[derive(Subcommand)]
pub enum IntrospectorCmd {
    /// Add one; the key set is fetched once now, so a wrong URL is refused here.
    Add {
        tenant: String,
        #[arg(long)]
        name: String,
        /// The slug of the tenant's identity provider whose people the tokens name.
        #[arg(long)]
        idp: String,
        /// The `iss` of the tokens.
        #[arg(long)]
        issuer: String,
        /// The `aud` the tokens must carry.
        #[arg(long)]
        audience: String,
        /// Where the IdP publishes its public keys.
        #[arg(long)]
        jwks_url: String,
        /// Accepted algorithms (public-key only).
        #[arg(long, value_delimiter = ',', default_value = "RS256")]
        algorithms: Vec<String>,
        /// The claim that names the person (Entra ID access tokens: oid).
        #[arg(long, default_value = "sub")]
        subject_claim: String,
    },
    /// List them: name, provider, issuer, audience, algorithms, key set URL.
    List { tenant: String },
    /// Remove one; its tokens stop working at once.
    Remove { tenant: String, name: String },
}

pub fn idp(config: Config, cmd: IdpCmd) -> anyhow::Result<()> {
    let (state, mut c) = open(config)?;
    match cmd {
        IdpCmd::Add { tenant, kind } => {
            let spec = match kind {
                IdpKindCmd::Oidc {
                    slug,
                    title,
                    issuer,
                    client_id,
                    client_secret,
                    scopes,
                    link,
                } => idp::Spec::Oidc {
                    slug,
                    title,
                    issuer,
                    client_id,
                    client_secret,
                    scopes,
                    linking: link.linking()?,
                },
                IdpKindCmd::Saml {
                    slug,
                    title,
                    metadata_file,
                    metadata_url,
                    allow_idp_initiated,
                    link,
                } => idp::Spec::Saml {
                    slug,
                    title,
                    metadata_xml: metadata_file
                        .map(|f| {
                            std::fs::read_to_string(&f).map_err(|e| {
                                anyhow::anyhow!(
                                    "cannot read the metadata file {}: {e}",
                                    f.display()
                                )
                            })
                        })
                        .transpose()?,
                    metadata_url,
                    idp_initiated: allow_idp_initiated,
                    linking: link.linking()?,
                },
            };
            // Refuse a provider muster cannot talk to before storing anything.
            let t = tenant_named(&mut c, &tenant)?;
            let new = block_on(idp::prepare(state.outbound(), spec))??;
            let added = idp::add(&mut c, &t.id, new)?;
            println!("{}", added.slug);
            let base = format!("{}/t/{tenant}/sso/{}", state.config.public_url, added.slug);
            match added.kind {
                idp::Kind::Oidc => eprintln!(
                    "identity provider {} added to {tenant}; its redirect URI is {base}/callback",
                    added.slug
                ),
                idp::Kind::Saml => eprintln!(
                    "identity provider {} added to {tenant}; give it the SP metadata at \
                     {base}/metadata (entity id {base}/metadata, ACS {base}/acs)",
                    added.slug
                ),
            }
        }
        IdpCmd::List { tenant } => {
            let t = tenant_named(&mut c, &tenant)?;
            for i in idp::list(&mut c, &t.id)? {
                let what = match (i.oidc(), i.saml()) {
                    (Some(o), _) => format!("issuer {} client {}", o.issuer, o.client_id),
                    (_, Some(s)) => format!("entity {}", s.entity_id),
                    _ => String::new(),
                };
                let state_word = if i.active { "active" } else { "disabled" };
                let trust = if i.linking.trust_email {
                    " (all addresses trusted)"
                } else {
                    ""
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\tlinks by {}{trust}",
                    i.slug, i.kind, state_word, i.title, what, i.linking.by
                );
            }
        }
        IdpCmd::Remove { tenant, slug } => {
            let t = tenant_named(&mut c, &tenant)?;
            idp::remove(&mut c, &t.id, &slug)?;
            eprintln!("identity provider {slug} removed from {tenant}");
        }
        IdpCmd::Enable { tenant, slug } => {
            let t = tenant_named(&mut c, &tenant)?;
            idp::set_active(&mut c, &t.id, &slug, true)?;
            eprintln!("identity provider {slug} of {tenant} enabled");
        }
        IdpCmd::Disable { tenant, slug } => {
            let t = tenant_named(&mut c, &tenant)?;
            idp::set_active(&mut c, &t.id, &slug, false)?;
            eprintln!("identity provider {slug} of {tenant} disabled");
        }
        IdpCmd::Map {
            tenant,
            slug,
            attribute,
            claims,
        } => {
            let t = tenant_named(&mut c, &tenant)?;
            let mapping = idp::set_mapping(&mut c, &t.id, &slug, &attribute, claims)?;
            for (attr, names) in mapping {
                println!("{attr}\t{}", names.join(","));
            }
        }
        IdpCmd::Link {
            tenant,
            slug,
            by,
            trust_email,
        } => {
            let t = tenant_named(&mut c, &tenant)?;
            let by = by
                .map(|b| b.parse::<idp::LinkBy>())
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let trust = trust_email.map(|o| matches!(o, OnOff::On));
            let l = idp::set_linking(&mut c, &t.id, &slug, by, trust)?;
            let addresses = if l.trust_email {
                "every address it sends"
            } else {
                "addresses it marks verified"
            };
            eprintln!(
                "first sign-ins through {slug} now link by {}; email counts for {addresses}",
                l.by
            );
        }
    }
    Ok(())
}

pub fn introspector(config: Config, cmd: IntrospectorCmd) -> anyhow::Result<()> {
    let (state, mut c) = open(config)?;
    match cmd {
        IntrospectorCmd::Add {
            tenant,
            name,
            idp,
            issuer,
            audience,
            jwks_url,
            algorithms,
            subject_claim,
        } => {
            let new = introspect::NewIntrospector {
                name,
                idp,
                issuer,
                audience,
                jwks_url,
                algorithms,
                subject_claim: Some(subject_claim),
            };
            let t = tenant_named(&mut c, &tenant)?;
            let added = block_on(introspect::add(&state.db, state.outbound(), &t.id, new))??;
            println!("{}", added.name);
            eprintln!(
                "{tenant} now accepts tokens from {} for audience {} on its userinfo and SCIM /Me",
                added.issuer, added.audience
            );
        }
        IntrospectorCmd::List { tenant } => {
            let t = tenant_named(&mut c, &tenant)?;
            for (i, idp) in introspect::list(&mut c, &t.id)? {
                println!(
                    "{}\t{idp}\t{}\t{}\t{}\t{}",
                    i.name, i.issuer, i.audience, i.algorithms, i.jwks_url
                );
            }
        }
        IntrospectorCmd::Remove { tenant, name } => {
            let t = tenant_named(&mut c, &tenant)?;
            introspect::remove(&mut c, &t.id, &name)?;
            eprintln!("introspector {name} of {tenant} removed");
        }
    }
    Ok(())
}
