// Reads JSON lines {secret, headers, body} on stdin and verifies each with the reference
// Standard Webhooks library. Prints one line per input: "ok" or "fail <reason>".
import { Webhook } from "standardwebhooks";
import readline from "node:readline";

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const { secret, headers, body } = JSON.parse(line);
  try {
    new Webhook(secret).verify(body, headers);
    console.log("ok");
  } catch (e) {
    console.log("fail " + e.message);
  }
}
