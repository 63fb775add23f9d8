/**
 * Prints a few log lines through getWinstonLogger, the way a NestJS service does: the app
 * installs the logger (NestFactory.create does Logger.overrideLogger) and each class logs
 * through `new Logger(ClassName)`.
 *
 *   node dist/emit-sample.js ticket-server          # debug lines included
 *   NODE_ENV=production node dist/emit-sample.js    # info and above only
 *
 * scripts/deploy-check.sh runs it and feeds the output through the Promtail pipeline.
 */
import { Logger } from '@nestjs/common';
import { getWinstonLogger } from './logger';

const service = process.argv[2] || process.env.SERVICE_NAME || 'api-server';
Logger.overrideLogger(getWinstonLogger(service));

const bootstrap = new Logger('NestApplication');
const reservations = new Logger('ReservationService');
const scheduler = new Logger('TicketScheduler');

bootstrap.log('Nest application successfully started');
scheduler.debug('scheduler tick');
reservations.log({ message: 'reservation created', userId: 'user_id_123', path: '/api/reservations', status: 201 });
reservations.warn('slow query');
const err = new Error('payment failed');
reservations.error('payment failed for user_id_123', err.stack);
