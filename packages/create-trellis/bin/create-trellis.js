#!/usr/bin/env node
// The `create-trellis` command. It is a file of its own rather than dist/cli.js so that it exists
// before the first build, as the server's bin does.
import "../dist/cli.js";
