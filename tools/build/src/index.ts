export * from './bundle.js';
export * from './image.js';
