-- Headless check of the Neovim integration: loads editors/nvim as a user would, opens a
-- copy of an example with one misspelled name, and checks that the server's diagnostics
-- and a hover arrive. Run by test/run.sh; exits 0 on success, 1 with a message otherwise.
local nvim_dir = vim.env.HPLAN_NVIM_DIR
local file = vim.env.HPLAN_FILE
vim.opt.runtimepath:append(nvim_dir)
vim.cmd("filetype on")
vim.cmd("runtime! ftdetect/hplan.lua")
vim.cmd("runtime! plugin/hplanc.lua")
if vim.lsp.enable ~= nil then
  vim.lsp.enable("hplanc")
end

local function fail(msg)
  io.stderr:write("FAIL: " .. msg .. "\n")
  vim.cmd("cquit 1")
end

vim.cmd("edit " .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
if vim.bo[buf].filetype ~= "hplan" then
  fail("filetype is '" .. vim.bo[buf].filetype .. "', not hplan")
end

-- diagnostics: the misspelled chip is E0101 with a did-you-mean
local got = vim.wait(30000, function()
  return #vim.diagnostic.get(buf) > 0
end, 50)
if not got then
  fail("no diagnostics within 30 s")
end
local d = vim.diagnostic.get(buf)[1]
local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
print(string.format("diagnostic: line %d, %s: %s", d.lnum + 1, tostring(code), (d.message:gsub("\n.*", ""))))
if code ~= "E0101" or not d.message:find("did you mean") then
  fail("expected E0101 with a did-you-mean, got " .. tostring(code))
end

-- hover on `rubin` in the `use` line
local line = vim.fn.search("use std::chips::{rubin", "w")
local col = vim.fn.getline(line):find("rubin") - 1
local params = {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = line - 1, character = col },
}
local results = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 30000)
local value = nil
for _, r in pairs(results or {}) do
  if r.result and r.result.contents then
    value = r.result.contents.value
  end
end
if value == nil then
  fail("no hover within 30 s")
end
print("hover: " .. (value:gsub("\n.*", "")))
if not value:find("chip `rubin`", 1, true) then
  fail("the hover does not show chip `rubin`")
end
print("ok: Neovim " .. tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. "." .. tostring(vim.version().patch))
vim.cmd("qall!")
