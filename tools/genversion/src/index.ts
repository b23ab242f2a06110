export * from './version.js';
export * from './build-info.js';
export * from './workspace.js';
