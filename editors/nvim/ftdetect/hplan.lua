-- .hplan files are filetype `hplan`.
vim.filetype.add({ extension = { hplan = "hplan" } })
