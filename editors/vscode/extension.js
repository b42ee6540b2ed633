// Starts `nnrun lsp` (configurable with nndsl.server.command) for .nn files.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("nndsl")
    .get("server.command", ["nnrun", "lsp"]);
  // .nn files changed on disk (git checkout, another tool) re-check the open files importing
  // them: the server also asks for this watcher itself (dynamic registration), a repeated
  // event costs nothing.
  const watcher = vscode.workspace.createFileSystemWatcher("**/*.nn");
  client = new LanguageClient(
    "nndsl",
    "nndsl language server",
    { command, args },
    {
      documentSelector: [{ scheme: "file", language: "nndsl" }],
      synchronize: { fileEvents: watcher },
    }
  );
  context.subscriptions.push(watcher);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
