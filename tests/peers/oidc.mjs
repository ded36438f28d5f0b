// OpenID Provider for muster's SSO integration tests: a real oidc-provider
// (code flow, PKCE S256, RS256 ID tokens) on 127.0.0.1, plus a scenario hook
// that mutates the next ID token for the negative tests. Claims are placed
// as oidc-provider places them by default: the ID token of a code flow carries
// `sub` (and what the token itself needs); the profile, email and groups
// claims come from the UserInfo endpoint.
//
// Environment:
//   OIDC_PORT     port to listen on; 0 (default) picks a free one
//   OIDC_CLIENTS  JSON array of {client_id, client_secret, redirect_uris}; any
//                 other client metadata in an entry is passed through
//
// Prints `READY <port>` on stdout once listening (the issuer is
// http://127.0.0.1:<port>); everything else goes to stderr. Exits when stdin
// closes, so a test harness that dies does not leave it behind.
//
// Extra endpoints:
//   GET  /__health    200 "ok"
//   POST /__scenario  {"mutate": {...}} arms a one-shot mutation of the
//                     id_token in the next successful /token response;
//                     {"mutate": null} disarms it. Mutation fields combine:
//     claims  object merged into the payload; a null value deletes the claim
//     alg     "none" (unsigned, empty signature) or "HS256" (HMAC keyed with
//             the secret of the client named in aud)
//     key     "other": RS256 with a fresh key that is not in /jwks, real kid
//     kid     string: signed with the real key under this kid header
//   {"publish": "other"}  from now on /jwks lists only a fresh key, not the one
//                     tokens are signed with (the key was withdrawn); null restores
//
// Accounts (the dev login form takes any login name; the password is ignored):
//   alice     alice@example.test, verified, "Alice Example", groups [engineering]
//   mallory   alice@example.test with email_verified false (account takeover)
//   bob       bob@example.test, verified
//   noverify  noverify@example.test, email_verified absent
//   kelvin    preferred_username "\u212Aim" (KELVIN SIGN, folds to "kim"), verified
//   ada       preferred_username and email ada@contoso.test, email_verified absent
//             (how Entra ID signs people in: the UPN, no verification claim)
//   <x>       <x>@example.test, verified

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

// oidc-provider prints notices with console.info; keep stdout for READY alone.
console.info = console.error;
console.log = console.error;

const { default: Provider } = await import('oidc-provider');
const { CompactSign, exportJWK, generateKeyPair, importJWK } = await import('jose');

const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]').map((c) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'RS256',
  ...c,
}));

const accounts = {
  alice: {
    email: 'alice@example.test', email_verified: true,
    name: 'Alice Example', given_name: 'Alice', family_name: 'Example',
    groups: ['engineering'],
  },
  mallory: { email: 'alice@example.test', email_verified: false, name: 'Mallory' },
  bob: { email: 'bob@example.test', email_verified: true, name: 'Bob Example', given_name: 'Bob', family_name: 'Example' },
  noverify: { email: 'noverify@example.test' },
  kelvin: { preferred_username: '\u212Aim', email: 'kelvin@example.test', email_verified: true },
  ada: { preferred_username: 'ada@contoso.test', email: 'ada@contoso.test', name: 'Ada Lovelace' },
};

// Our own signing key (not the provider's dev keys) so the scenario hook can
// re-sign tokens with it after mutating them.
const KID = `test-${randomBytes(6).toString('hex')}`;
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(privateKey)), kid: KID, alg: 'RS256', use: 'sig' };

// Bind first: with OIDC_PORT=0 the issuer URL is only known once listening.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(process.env.OIDC_PORT || 0), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  pkce: { required: () => true },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    groups: ['groups'],
  },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const claims = accounts[id] ?? { email: `${id}@example.test`, email_verified: true };
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  cookies: { keys: [randomBytes(16).toString('hex')] },
  ttl: {
    AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600,
  },
});

let pendingMutation = null;
let publishOther = false;
const otherPublicJwk = {
  ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey)),
  kid: `other-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig',
};

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

async function mutateIdToken(token, m) {
  const [h, p] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  for (const [name, value] of Object.entries(m.claims ?? {})) {
    if (value === null) delete payload[name];
    else payload[name] = value;
  }
  const body = new TextEncoder().encode(JSON.stringify(payload));
  if (m.alg === 'none') {
    const { kid: _kid, ...rest } = header;
    return `${b64url({ ...rest, alg: 'none' })}.${b64url(JSON.stringify(payload))}.`;
  }
  if (m.alg === 'HS256') {
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    const client = clients.find((c) => c.client_id === aud);
    if (!client) throw new Error(`HS256 mutation: no client_secret for aud ${aud}`);
    const { kid: _kid, ...rest } = header;
    return new CompactSign(body)
      .setProtectedHeader({ ...rest, alg: 'HS256' })
      .sign(new TextEncoder().encode(client.client_secret));
  }
  let key = await importJWK(signingJwk, 'RS256');
  if (m.key === 'other') key = (await generateKeyPair('RS256')).privateKey;
  return new CompactSign(body)
    .setProtectedHeader({ ...header, alg: 'RS256', kid: m.kid ?? header.kid })
    .sign(key);
}

const MUTATION_FIELDS = new Set(['claims', 'alg', 'key', 'kid']);

function checkMutation(m) {
  if (m === null) return;
  if (typeof m !== 'object' || Array.isArray(m)) throw new Error('mutate must be an object or null');
  for (const k of Object.keys(m)) if (!MUTATION_FIELDS.has(k)) throw new Error(`unknown mutation field ${k}`);
  if (m.alg !== undefined && !['none', 'HS256'].includes(m.alg)) throw new Error('alg must be none or HS256');
  if (m.key !== undefined && m.key !== 'other') throw new Error('key must be "other"');
  if (m.claims !== undefined && (typeof m.claims !== 'object' || m.claims === null)) throw new Error('claims must be an object');
}

async function readBody(req, limit = 64 * 1024) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__health' && ctx.method === 'GET') {
    ctx.body = 'ok';
    return;
  }
  if (ctx.path === '/__scenario' && ctx.method === 'POST') {
    try {
      const { mutate, publish } = JSON.parse(await readBody(ctx.req));
      checkMutation(mutate ?? null);
      if (publish !== undefined && publish !== null && publish !== 'other') throw new Error('publish must be "other" or null');
      pendingMutation = mutate ?? null;
      if (publish !== undefined) publishOther = publish === 'other';
      ctx.body = { ok: true, mutate: pendingMutation, publishOther };
    } catch (e) {
      ctx.status = 400;
      ctx.body = { ok: false, error: e.message };
    }
    return;
  }
  if (publishOther && ctx.path === '/jwks' && ctx.method === 'GET') {
    ctx.type = 'application/jwk-set+json';
    ctx.body = { keys: [otherPublicJwk] };
    return;
  }
  await next();
  if (pendingMutation && ctx.path === '/token' && ctx.method === 'POST'
      && ctx.status === 200 && typeof ctx.body?.id_token === 'string') {
    const m = pendingMutation;
    pendingMutation = null;
    ctx.body = { ...ctx.body, id_token: await mutateIdToken(ctx.body.id_token, m) };
  }
});

server.on('request', provider.callback());
process.stdout.write(`READY ${port}\n`);

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
