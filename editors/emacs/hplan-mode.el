;;; hplan-mode.el --- Major mode for .hplan placement plans, with eglot -*- lexical-binding: t; -*-

;; A small major mode for hplanc's plan files: `//' and `/* */' comments, strings,
;; item keywords, numbers with units, and the language server (`hplanc lsp') through
;; eglot for diagnostics, hover, go to definition (into the stdlib's read-only copy),
;; references, rename, completion, formatting and quick fixes.
;;
;; Put this folder on `load-path', then:
;;   (require 'hplan-mode)
;;   (add-hook 'hplan-mode-hook #'eglot-ensure)
;; `hplanc' must be on PATH (`cargo install --path .').

;;; Code:

(require 'eglot)

(defgroup hplan nil "Placement plans for hplanc." :group 'languages)

(defconst hplan-item-keywords
  '("chip" "link" "model" "cluster" "workload" "plan" "compare" "dimension" "prefix" "unit")
  "Words that start an item (the compiler's `ItemKind::ALL').")

(defconst hplan-statement-keywords
  '("use" "pool" "place" "on" "over" "minimize" "maximize" "slo" "budget" "sweep" "speculate" "any" "auto")
  "Words that start or join a statement.")

(defvar hplan-mode-syntax-table
  (let ((st (make-syntax-table)))
    ;; `//' line comments and `/* */' block comments
    (modify-syntax-entry ?/ ". 124b" st)
    (modify-syntax-entry ?* ". 23" st)
    (modify-syntax-entry ?\n "> b" st)
    (modify-syntax-entry ?\" "\"" st)
    (modify-syntax-entry ?_ "_" st)
    st)
  "Syntax table of `hplan-mode'.")

(defvar hplan-font-lock-keywords
  `((,(concat "^\\s-*" (regexp-opt hplan-item-keywords 'words) "\\s-+\\(\\_<[A-Za-z_][A-Za-z0-9_]*\\_>\\)")
     (1 font-lock-keyword-face) (2 font-lock-type-face))
    (,(regexp-opt hplan-statement-keywords 'symbols) . font-lock-keyword-face)
    ("\\_<[0-9][0-9_.]*\\(?:[eE][-+]?[0-9]+\\)?\\(?:\\s-*[A-Za-z$%µμ/^0-9]+\\)?" . font-lock-constant-face))
  "Highlighting of `hplan-mode'.")

;;;###autoload
(define-derived-mode hplan-mode prog-mode "hplan"
  "Major mode for hplanc's .hplan placement plans."
  :syntax-table hplan-mode-syntax-table
  (setq-local comment-start "// ")
  (setq-local comment-end "")
  (setq-local font-lock-defaults '(hplan-font-lock-keywords)))

;;;###autoload
(add-to-list 'auto-mode-alist '("\\.hplan\\'" . hplan-mode))

(add-to-list 'eglot-server-programs '(hplan-mode . ("hplanc" "lsp")))

(provide 'hplan-mode)
;;; hplan-mode.el ends here
