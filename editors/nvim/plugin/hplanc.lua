-- Starts the hplanc language server for `hplan` buffers on Neovim before 0.11, with the
-- same settings as lsp/hplanc.lua (which Neovim 0.11+ reads itself after
-- `vim.lsp.enable("hplanc")`; there this file does nothing).
if vim.lsp.config ~= nil then
  return
end

local function settings()
  local file = vim.api.nvim_get_runtime_file("lsp/hplanc.lua", false)[1]
  return file and dofile(file) or { cmd = { "hplanc", "lsp" } }
end

local client_id = nil

vim.api.nvim_create_autocmd("FileType", {
  pattern = "hplan",
  callback = function(args)
    local config = settings()
    local root = vim.fn.getcwd()
    if vim.lsp.start ~= nil then
      -- 0.8 to 0.10
      vim.lsp.start({ name = "hplanc", cmd = config.cmd, root_dir = root })
      return
    end
    -- 0.7: one client for every hplan buffer
    if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
      client_id = vim.lsp.start_client({ name = "hplanc", cmd = config.cmd, root_dir = root })
    end
    if client_id ~= nil then
      vim.lsp.buf_attach_client(args.buf, client_id)
    end
  end,
})
