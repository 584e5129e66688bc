// Starts `hplanc lsp` for .hplan files (the path is the `hplan.server.path` setting).
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("hplan").get("server.path", "hplanc");
  const server = { command, args: ["lsp"], transport: TransportKind.stdio };
  client = new LanguageClient(
    "hplan",
    "hplanc",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "hplan" }, { scheme: "untitled", language: "hplan" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
