// Starts `bitlocker-rules lsp` for .rules files and talks to it over standard input and output.
// Plain JavaScript (CommonJS): no build step. Run `npm install` in this folder once, for
// vscode-languageclient.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const configured = vscode.workspace.getConfiguration("bitlockerRules").get("server.command");
  const [command, ...args] = configured && configured.length ? configured : ["bitlocker-rules", "lsp"];
  // TransportKind.stdio: the client adds --stdio to the arguments, which the server accepts.
  const serverOptions = { command, args, transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "bitlocker-rules" },
      { scheme: "untitled", language: "bitlocker-rules" },
    ],
  };
  client = new LanguageClient("bitlockerRules", "BitLocker rules", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
