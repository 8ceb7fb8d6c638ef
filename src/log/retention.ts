import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RedisClient } from '../redis/client.js';
import { ThrottledWarnings } from '../warnings.js';

/**
 * Trims the event log by age (XTRIM MINID ~ now − maxAgeMs) on an interval. Length is bounded at
 * append time (XADD MAXLEN ~ maxLength, the memory safety valve).
 */
export class LogRetention {
  private timer: NodeJS.Timeout | undefined;
  private readonly warnings: ThrottledWarnings;

  constructor(
    private readonly client: RedisClient,
    private readonly streamKey: string,
    private readonly config: Config['eventLog'],
    private readonly logger: Logger,
  ) {
    this.warnings = new ThrottledWarnings(logger);
  }

  start(): void {
    this.timer = setInterval(() => void this.trim(), this.config.trimIntervalMs);
    this.timer.unref();
  }

  async trim(now = Date.now()): Promise<number> {
    if (!this.client.isReady) return 0;
    try {
      const minId = `${Math.max(0, now - this.config.maxAgeMs)}-0`;
      const removed = (await this.client.sendCommand(['XTRIM', this.streamKey, 'MINID', '~', minId])) as number;
      if (removed > 0) this.logger.debug({ removed }, 'event log trimmed by age');
      return removed;
    } catch (error) {
      this.warnings.warn('event log trim failed', error);
      return 0;
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
