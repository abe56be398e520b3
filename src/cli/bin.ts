import { wroteToStdout } from "./io.js";
import { main } from "./main.js";

// Exit explicitly: a paste-back reader on stdin or a signal handler must not
// keep the CLI alive. Flush stdout first only when it was used (touching it
// otherwise would create the stream just to close it).
void main(process.argv.slice(2)).then((code) => {
  if (wroteToStdout()) process.stdout.write("", () => process.exit(code));
  else process.exit(code);
});
