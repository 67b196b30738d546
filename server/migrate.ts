import { loadConfig } from "./config.js";
import { openDatabase } from "./db/open.js";

// `npm run migrate`: brings the configured database to the newest schema.
const config = loadConfig();
const database = await openDatabase(config);
await database.close();
console.log(`database migrated (${database.kind})`);
