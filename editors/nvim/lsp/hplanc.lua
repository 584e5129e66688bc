-- The hplanc language server for `hplan` files (Neovim 0.11+: vim.lsp.config).
return {
  cmd = { "hplanc", "lsp" },
  filetypes = { "hplan" },
  root_markers = { ".git" },
}
