// The webhook's TLS: a CA and a serving certificate for `traffic-manager.<ns>.svc`, kept in a Secret
// of the manager's namespace (reused while valid, replaced otherwise), and the CA put into the
// caBundle of the manager's MutatingWebhookConfiguration so the API server trusts the webhook.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { AdmissionregistrationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import forge from 'node-forge';
import { MANAGER_SERVICE, WEBHOOK_TLS_SECRET } from '@tel/agent-config';
import type { Logger } from '@tel/logging';

export interface WebhookTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;
/** A certificate expiring sooner than this is replaced at start (managers restart on upgrades). */
export const RENEW_BEFORE_MS = 30 * DAY_MS;
const VALIDITY_MS = 365 * DAY_MS;

/** The names the API server may use to reach the webhook Service. */
export function webhookDnsNames(namespace: string): string[] {
  return [`${MANAGER_SERVICE}.${namespace}.svc`, `${MANAGER_SERVICE}.${namespace}.svc.cluster.local`];
}

/** RSA keys from Node's native generator (forge's own is slow pure JavaScript). */
function rsaKeys(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const kp = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = kp.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return { privateKey: forge.pki.privateKeyFromPem(pem), publicKey: forge.pki.publicKeyFromPem(kp.publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey, pem };
}

function certificate(subjectCn: string, publicKey: forge.pki.rsa.PublicKey, now: Date, extensions: object[]): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive (leading byte < 0x80) and unique.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  // An hour back: the API server's clock may be behind ours.
  cert.validity.notBefore = new Date(now.getTime() - 3_600_000);
  cert.validity.notAfter = new Date(now.getTime() + VALIDITY_MS);
  cert.setSubject([{ name: 'commonName', value: subjectCn }]);
  cert.setExtensions(extensions);
  return cert;
}

/** A fresh CA and serving certificate for the webhook Service of `namespace`. */
export function generateWebhookTls(namespace: string, now = new Date()): WebhookTls {
  const names = webhookDnsNames(namespace);
  const caKeys = rsaKeys();
  const ca = certificate(`${MANAGER_SERVICE}-${namespace} webhook CA`, caKeys.publicKey, now, [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.setIssuer(ca.subject.attributes);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());
  const keys = rsaKeys();
  const leaf = certificate(names[0]!, keys.publicKey, now, [
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2, value })) },
  ]);
  leaf.setIssuer(ca.subject.attributes);
  leaf.sign(caKeys.privateKey, forge.md.sha256.create());
  return { caPem: forge.pki.certificateToPem(ca), certPem: forge.pki.certificateToPem(leaf), keyPem: keys.pem };
}

/** Why `tls` can't serve the webhook of `namespace` until RENEW_BEFORE_MS from `now` (undefined: it can). */
export function tlsProblem(tls: WebhookTls, namespace: string, now = new Date()): string | undefined {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(tls.certPem);
    ca = new X509Certificate(tls.caPem);
  } catch (err) {
    return `unreadable certificate: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (!cert.verify(ca.publicKey)) return 'the serving certificate is not signed by the CA';
  try {
    if (!cert.checkPrivateKey(createPrivateKey(tls.keyPem))) return 'the key does not match the certificate';
  } catch (err) {
    return `unreadable key: ${err instanceof Error ? err.message : String(err)}`;
  }
  const soon = now.getTime() + RENEW_BEFORE_MS;
  for (const [what, c] of [['serving certificate', cert], ['CA', ca]] as const) {
    if (new Date(c.validFrom).getTime() > now.getTime()) return `the ${what} is not valid yet`;
    if (new Date(c.validTo).getTime() < soon) return `the ${what} expires ${c.validTo}`;
  }
  const sans = (cert.subjectAltName ?? '').split(',').map((s) => s.trim());
  const missing = webhookDnsNames(namespace).filter((n) => !sans.includes(`DNS:${n}`));
  if (missing.length) return `the serving certificate lacks ${missing.join(', ')}`;
  return undefined;
}

const statusOf = (err: unknown) => (err as { code?: unknown }).code;

function fromSecret(s: V1Secret): WebhookTls | undefined {
  const d = s.data ?? {};
  const get = (k: string) => (d[k] ? Buffer.from(d[k], 'base64').toString() : undefined);
  const caPem = get('ca.crt');
  const certPem = get('tls.crt');
  const keyPem = get('tls.key');
  return caPem && certPem && keyPem ? { caPem, certPem, keyPem } : undefined;
}

function secretOf(namespace: string, tls: WebhookTls, resourceVersion?: string): V1Secret {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: WEBHOOK_TLS_SECRET, namespace, labels: { 'app.kubernetes.io/managed-by': 'telepresence', 'app.kubernetes.io/name': MANAGER_SERVICE }, ...(resourceVersion ? { resourceVersion } : {}) },
    data: { 'ca.crt': b64(tls.caPem), 'tls.crt': b64(tls.certPem), 'tls.key': b64(tls.keyPem) },
  };
}

/**
 * The webhook's TLS from its Secret:
 * 1. read it; valid (names, signature, key, > 30 days left): use it;
 * 2. absent: create it (another manager that created it first wins: use theirs if valid);
 * 3. invalid: replace it (update with its resourceVersion, so a concurrent writer fails us, not them).
 */
export async function ensureWebhookTls(kc: KubeConfig, namespace: string, log: Logger): Promise<WebhookTls> {
  const core = kc.makeApiClient(CoreV1Api);
  const read = async () => {
    try {
      return await core.readNamespacedSecret({ name: WEBHOOK_TLS_SECRET, namespace });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  };
  for (let attempt = 0; ; attempt++) {
    const secret = await read();
    const current = secret && fromSecret(secret);
    const problem = current ? tlsProblem(current, namespace) : secret ? 'the Secret lacks ca.crt, tls.crt or tls.key' : undefined;
    if (current && !problem) return current;
    const fresh = generateWebhookTls(namespace);
    try {
      if (!secret) await core.createNamespacedSecret({ namespace, body: secretOf(namespace, fresh) });
      else await core.replaceNamespacedSecret({ name: WEBHOOK_TLS_SECRET, namespace, body: secretOf(namespace, fresh, secret.metadata?.resourceVersion) });
      log.info(secret ? `replaced the webhook certificate in Secret ${WEBHOOK_TLS_SECRET}: ${problem}` : `created the webhook certificate in Secret ${WEBHOOK_TLS_SECRET}`);
      return fresh;
    } catch (err) {
      // 409: someone else wrote it meanwhile; read theirs.
      if (statusOf(err) !== 409 || attempt >= 3) throw err;
    }
  }
}

/**
 * Puts `caPem` into every webhook of the manager's MutatingWebhookConfiguration whose caBundle
 * differs. 'absent' when the configuration does not exist (installed without it): the webhook
 * then is never called and intercepts report `webhook-not-called`.
 */
export async function patchCaBundle(kc: KubeConfig, name: string, caPem: string): Promise<'patched' | 'unchanged' | 'absent'> {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  let mwc;
  try {
    mwc = await api.readMutatingWebhookConfiguration({ name });
  } catch (err) {
    if (statusOf(err) === 404) return 'absent';
    throw err;
  }
  const bundle = Buffer.from(caPem).toString('base64');
  const ops = (mwc.webhooks ?? []).flatMap((w, i) =>
    w.clientConfig.caBundle === bundle
      ? []
      : [
          // `test` first: the index must still be this webhook when the patch lands.
          { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
          { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: bundle },
        ],
  );
  if (ops.length === 0) return 'unchanged';
  await api.patchMutatingWebhookConfiguration({ name, body: ops }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  return 'patched';
}
