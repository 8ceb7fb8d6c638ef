import type { ComponentFactory } from './context.js';
import { integratorsComponent } from './streams/component.js';

/** The capabilities the hub starts, in order (each issue adds its own). */
export const COMPONENTS: readonly ComponentFactory[] = [
  integratorsComponent,
];
