export * from './auth.ts';
export * from './bookings.ts';
export * from './common.ts';
export * from './errors.ts';
export * from './events.ts';
export * from './money.ts';
export * from './refunds.ts';
