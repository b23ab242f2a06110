// Registry names: validated the same way at build time (genversion) and run time (CLI config).
import { TelError } from '@tel/errors';

/** `host[:port][/path...]`, lower-case path, no scheme, no tag. */
const REGISTRY_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

export function validateRegistry(value: string, origin: string): string {
  if (!REGISTRY_RE.test(value)) {
    throw new TelError(
      'config',
      `invalid registry ${JSON.stringify(value)} in ${origin}: expected host[:port][/path] without scheme or tag, e.g. registry.example.com/team`,
      `fix ${origin}`,
    );
  }
  return value;
}
