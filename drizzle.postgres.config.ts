import { defineConfig } from 'drizzle-kit';

// `npx drizzle-kit generate --config drizzle.postgres.config.ts` writes the PostgreSQL store's migrations.
export default defineConfig({
  dialect: 'postgresql',
  schema: './storage/postgres/schema.ts',
  out: './storage/postgres/migrations',
});
