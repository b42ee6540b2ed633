// Starts `nnrun lsp` (configurable with nndsl.server.command) for .nn files.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("nndsl")
    .get("server.command", ["nnrun", "lsp"]);
  client = new LanguageClient(
    "nndsl",
    "nndsl language server",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "nndsl" }] }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
