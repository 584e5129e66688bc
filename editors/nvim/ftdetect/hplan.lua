-- .hplan files are filetype `hplan`.
if vim.filetype ~= nil and vim.filetype.add ~= nil then
  vim.filetype.add({ extension = { hplan = "hplan" } })
end
-- Neovim 0.7 detects filetypes with filetype.vim unless g:do_filetype_lua is set; an
-- autocommand works on every version (`setfiletype` leaves a detected type alone).
vim.api.nvim_create_autocmd({ "BufRead", "BufNewFile" }, { pattern = "*.hplan", command = "setfiletype hplan" })
