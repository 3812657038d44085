import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'turso',
  schema: './src/db/schema.ts',
  out: './drizzle',
  dbCredentials: {
    url: process.env.HASTIC_DB_URL ?? 'file:data/hastic.db',
    authToken: process.env.HASTIC_DB_AUTH_TOKEN,
  },
});
