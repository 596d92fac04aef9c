export * from './embedded.ts';
export * from './entities/index.ts';
export * from './migrate.ts';
export * from './orm.ts';
