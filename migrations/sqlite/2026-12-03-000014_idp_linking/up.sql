-- How a first sign-in through a provider finds an existing user: 'email' (an address the
-- provider verified, or any of its addresses when trust_email is on), 'userName', or
-- 'claim:<name>' matched against the SCIM externalId. Nothing else links.
ALTER TABLE identity_providers ADD COLUMN link_by TEXT NOT NULL DEFAULT 'email';
-- The admin vouches for every address the provider sends (OIDC or SAML).
ALTER TABLE identity_providers ADD COLUMN trust_email BOOLEAN NOT NULL DEFAULT 0;
UPDATE identity_providers
   SET trust_email = COALESCE(json_extract(settings, '$.trust_email'), 0) = 1;
-- A SAML provider without trusted addresses linked by its NameID alone, as its admin set it
-- up; it keeps doing so, now by name. Every other provider links by verified email.
UPDATE identity_providers SET link_by = 'userName' WHERE kind = 'saml' AND NOT trust_email;
