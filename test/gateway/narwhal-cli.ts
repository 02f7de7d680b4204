/** Entry point for tests that run narwhal as a real process (same as bin/narwhal). */
import { main } from "../../src/main.js";

main(process.argv.slice(2));
