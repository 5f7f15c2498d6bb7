// The workflow bundle's entry point: every workflow type the worker registers.
export { partnerLifecycle } from './partner-lifecycle.js';
