/** Entry point for the deployment tests run from sources (tsx): the same as bin/narwhal. */
import { main } from "../../src/main.js";

main(process.argv.slice(2));
