// Validates an OpenAPI document (a file) against the OpenAPI 3.0 schema and
// resolves every $ref, with a maintained validator. Exit 0 when valid.
//   usage: node validate.mjs openapi.json
import SwaggerParser from "@apidevtools/swagger-parser";
import { readFileSync } from "node:fs";

const file = process.argv[2];
try {
  const api = await SwaggerParser.validate(JSON.parse(readFileSync(file, "utf8")));
  console.log(`valid: ${api.info.title} ${api.info.version}, ${Object.keys(api.paths).length} paths`);
} catch (e) {
  console.error(`invalid: ${e.message}`);
  process.exit(1);
}
