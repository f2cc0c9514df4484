import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './storage/sqlite/schema.ts',
  out: './storage/sqlite/migrations',
});
