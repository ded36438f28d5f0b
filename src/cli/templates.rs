//! `muster template`: a tenant's email templates.

use super::{open, tenant_named};
use crate::config::Config;
use crate::notify::{templates, Kind};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TemplateCmd {
    /// Print the template the tenant uses (its own, or the default).
    Show { tenant: String, kind: String },
    /// Replace parts of the tenant's template. Each part is test-rendered first; a part that
    /// does not render is refused with its line.
    Set {
        tenant: String,
        kind: String,
        #[arg(long)]
        subject: Option<String>,
        /// File with the HTML body.
        #[arg(long)]
        html_file: Option<std::path::PathBuf>,
        /// File with the plain-text body.
        #[arg(long)]
        text_file: Option<std::path::PathBuf>,
    },
    /// Go back to the default template.
    Reset { tenant: String, kind: String },
}

pub fn template(config: Config, cmd: TemplateCmd) -> anyhow::Result<()> {
    let (_, mut c) = open(config)?;
    let kind = |k: &str| k.parse::<Kind>().map_err(anyhow::Error::msg);
    match cmd {
        TemplateCmd::Show { tenant, kind: k } => {
            let t = tenant_named(&mut c, &tenant)?;
            let (tpl, own) = templates::current(&mut c, &t.id, kind(&k)?)?;
            let source = if own {
                "the tenant's own"
            } else {
                "the default"
            };
            eprintln!("{k} template of {tenant}: {source}");
            println!(
                "--- subject\n{}\n--- html\n{}\n--- text\n{}",
                tpl.subject.trim_end(),
                tpl.html.trim_end(),
                tpl.text.trim_end()
            );
        }
        TemplateCmd::Set {
            tenant,
            kind: k,
            subject,
            html_file,
            text_file,
        } => {
            let read = |p: Option<std::path::PathBuf>| {
                p.map(|p| {
                    std::fs::read_to_string(&p)
                        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
                })
                .transpose()
            };
            let change = templates::Change {
                subject,
                html: read(html_file)?,
                text: read(text_file)?,
            };
            if change.subject.is_none() && change.html.is_none() && change.text.is_none() {
                anyhow::bail!("give --subject, --html-file or --text-file");
            }
            let t = tenant_named(&mut c, &tenant)?;
            templates::set(&mut c, &t.id, kind(&k)?, change)
                .map_err(|e| anyhow::anyhow!("template refused: {e}"))?;
            eprintln!("{k} template of {tenant} saved");
        }
        TemplateCmd::Reset { tenant, kind: k } => {
            let t = tenant_named(&mut c, &tenant)?;
            templates::reset(&mut c, &t.id, kind(&k)?)?;
            eprintln!("{k} template of {tenant} is the default again");
        }
    }
    Ok(())
}
