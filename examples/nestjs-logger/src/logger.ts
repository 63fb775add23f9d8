import type { LoggerService } from '@nestjs/common';
import { WinstonModule } from 'nest-winston';
import * as winston from 'winston';

/**
 * The logger every service of the plan uses, so that all of them print the same one-line
 * JSON records on stdout, e.g.
 *
 *   {"context":"ReservationService","label":"ticket-server","level":"info","message":"reservation created","ms":"+2ms","timestamp":"2026-02-02T13:00:01.234Z","userId":"user_id_123"}
 *
 * deploy/app-server/promtail-config.yaml relies on exactly these keys: `level` and `label`
 * become the stream labels `level` and `service`, and `timestamp` (ISO 8601 in UTC, which is
 * RFC 3339) becomes the entry's time.
 *
 * Usage in main.ts:
 *
 *   const app = await NestFactory.create(AppModule, { logger: getWinstonLogger('api-server') });
 *
 * after which `new Logger(ReservationService.name).log('reservation created')` anywhere in the
 * app goes through winston.
 */
export function getWinstonLogger(serviceName: string): LoggerService {
  return WinstonModule.createLogger({
    // Debug lines are for development; production keeps info, warn and error.
    level: process.env.NODE_ENV === 'production' ? 'info' : 'debug',
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.ms(),
      winston.format.label({ label: serviceName }),
      winston.format.json(),
    ),
    // Docker collects stdout; Promtail reads it from the Docker API.
    transports: [new winston.transports.Console()],
  });
}
