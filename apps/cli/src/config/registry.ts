// Which registry the CLI installs cluster images from: TELEPRESENCE_REGISTRY (run time), else
// config.yml images.registry, else the registry the build was made for.
import { configError } from '@tel/errors';
import { IMAGE_NAME, buildRegistry, validateRegistry } from '@tel/version';
import type { Config } from './config.js';

export interface ImageChoice {
  registry: string;
  /** Where the choice came from, shown by `telepresence config view` and in install errors. */
  source: 'env TELEPRESENCE_REGISTRY' | 'config.yml images.registry' | 'build';
  image: string;
}

export function resolveImage(config: Config, version: string, env: NodeJS.ProcessEnv = process.env): ImageChoice {
  let registry: string;
  let source: ImageChoice['source'];
  if (env.TELEPRESENCE_REGISTRY) {
    registry = validateRegistry(env.TELEPRESENCE_REGISTRY, 'TELEPRESENCE_REGISTRY');
    source = 'env TELEPRESENCE_REGISTRY';
  } else if (config.images.registry) {
    registry = config.images.registry;
    source = 'config.yml images.registry';
  } else if (buildRegistry) {
    registry = buildRegistry;
    source = 'build';
  } else {
    throw configError('no registry configured for cluster images', 'set images.registry in config.yml or TELEPRESENCE_REGISTRY');
  }
  return { registry, source, image: `${registry}/${IMAGE_NAME}:${version}` };
}
