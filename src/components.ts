import type { ComponentFactory } from './context.js';
import { ctiComponent } from './cti/index.js';
import { liveComponent } from './live/index.js';
import { listRelayComponent } from './integrators/list-relay.js';
import { sourcesComponent } from './sources/index.js';
import { integratorsComponent } from './integrators/component.js';
import { webhooksComponent } from './webhooks/index.js';

/** The capabilities the hub starts, in order (docs/architecture.md: how to add one). */
export const COMPONENTS: readonly ComponentFactory[] = [
  integratorsComponent,
  ctiComponent,
  webhooksComponent,
  listRelayComponent,
  liveComponent,
  // Last: every other component is ready for the events the PBXs send.
  sourcesComponent,
];
