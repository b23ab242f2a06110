// The config.yml keys a Telepresence 2.x user may have, and which of them this implementation
// honours: loadConfig validates the honoured ones and names the rest in one warning line, so a
// key that does nothing here is never dropped silently. Unknown keys stay config errors.

/** Keys this implementation acts on, per section (dotted: `timeouts.helm`). */
export const HONOURED_KEYS: Record<string, readonly string[]> = {
  images: ['registry'],
  timeouts: ['trafficManagerConnect', 'trafficManagerAPI', 'agentInstall', 'daemonStart'],
  logLevels: ['userDaemon', 'rootDaemon'],
  dns: ['includeSuffixes', 'excludeSuffixes', 'lookupTimeout'],
};

/**
 * 2.x keys accepted and ignored, with why where it helps. A section mapped to `'*'` is ignored
 * whole (any key inside it). Timeouts among them must still be well-formed durations.
 */
export const IGNORED_2X_KEYS: Record<string, readonly string[] | '*'> = {
  images: ['agentImage', 'clientImage', 'webhookRegistry', 'webhookAgentImage'],
  timeouts: ['helm', 'apply', 'clusterConnect', 'connectivityCheck', 'endpointDial', 'roundtripLatency', 'intercept', 'proxyDial', 'ftpReadWrite', 'ftpShutdown'],
  dns: ['localIP', 'remoteIP', 'excludes', 'mappings'],
  cluster: '*',
  grpc: '*',
  intercept: '*',
  routing: '*',
  telepresenceAPI: '*',
  helm: '*',
  cloud: '*',
  client: '*',
};

export type KeyStatus = 'honoured' | 'ignored' | 'unknown';

/** What `section.key` is to this implementation. */
export function keyStatus(section: string, key: string): KeyStatus {
  if (HONOURED_KEYS[section]?.includes(key)) return 'honoured';
  const ignored = IGNORED_2X_KEYS[section];
  if (ignored === '*' || ignored?.includes(key)) return 'ignored';
  return 'unknown';
}

export function isKnownSection(section: string): boolean {
  return section in HONOURED_KEYS || section in IGNORED_2X_KEYS;
}

/** The one warning line for the ignored keys of `file`, or undefined when there are none. */
export function ignoredKeysWarning(file: string, ignored: string[]): string | undefined {
  if (ignored.length === 0) return undefined;
  return `${file}: ignored (no effect in this telepresence): ${ignored.join(', ')}`;
}
