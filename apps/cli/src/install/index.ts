// Public API of install for the session owner (connect) and the `helm` command.
export { ensureManager, installManager, upgradeManager, uninstallManager, mismatchError, type EnsureOptions, type InstallOptions, type ManagerResult, type UninstallResult } from './install.js';
export { getManagerState, type ManagerState } from './state.js';
export { checkCompatibility, type Compatibility } from './policy.js';
export { DEFAULT_MANAGER_NAMESPACE, MANAGER_NAME } from './manifests.js';
