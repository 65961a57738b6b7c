export * from './errors.js';
export * from './close-codes.js';
export * from './channels.js';
export * from './limits.js';
export * from './task.js';
export * from './reduce.js';
export * from './frames.js';
export * from './http.js';
