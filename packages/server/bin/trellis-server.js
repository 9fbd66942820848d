#!/usr/bin/env node
// The `trellis-server` command. It is a file of its own rather than dist/cli.js so that it exists
// before the first build: installing the workspace links it into every package that depends on
// the server, and a link to a file not yet built fails with a warning.
import "../dist/cli.js";
