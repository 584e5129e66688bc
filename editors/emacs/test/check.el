;;; check.el --- Batch check of the Emacs integration (eglot + hplanc lsp) -*- lexical-binding: t; -*-

;; Run by test/run.sh in a folder holding chips.hplan (declares chip `mine') and
;; plan.hplan (imports it, and misspells it once). Loads editors/emacs as a user would,
;; then checks over the real protocol: the misspelling's diagnostic (E0101 with a
;; did-you-mean), a hover, go to definition into the stdlib's read-only copy, and a
;; rename that reaches the imported file. Exits 0 on success, 1 with a message.

;;; Code:

(require 'hplan-mode)
(require 'xref)
(require 'cl-lib)

(defun check-fail (fmt &rest args)
  (princ (concat "FAIL: " (apply #'format fmt args) "\n") #'external-debugging-output)
  (kill-emacs 1))

(defun check-wait (what pred &optional seconds)
  "Process input until PRED is non-nil, at most SECONDS (30); fail with WHAT."
  (let ((deadline (+ (float-time) (or seconds 30))))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or (funcall pred) (check-fail "no %s within %d s" what (or seconds 30)))))

(defun check-goto (text &optional offset)
  "Put point on TEXT's first match in the buffer, OFFSET characters in (default 1)."
  (goto-char (point-min))
  (unless (search-forward text nil t) (check-fail "`%s' is not in %s" text (buffer-name)))
  (goto-char (+ (match-beginning 0) (or offset 1))))

(let* ((dir (file-name-as-directory (getenv "HPLAN_WORK")))
       (plan (expand-file-name "plan.hplan" dir))
       (chips (expand-file-name "chips.hplan" dir)))
  (find-file plan)
  (unless (eq major-mode 'hplan-mode) (check-fail "major mode is %s, not hplan-mode" major-mode))
  ;; start the server as `M-x eglot' would (eglot-ensure waits for a command loop)
  (apply #'eglot (eglot--guess-contact))
  (check-wait "server" (lambda () (eglot-current-server)))

  ;; diagnostics: the misspelled chip, with a did-you-mean
  (check-wait "diagnostics" (lambda () (flymake-diagnostics)))
  (let* ((d (car (flymake-diagnostics)))
         (text (flymake-diagnostic-text d)))
    (message "diagnostic: line %d: %s" (line-number-at-pos (flymake-diagnostic-beg d))
             (car (split-string text "\n")))
    (unless (and (string-match-p "unknown chip `mien'\\|unknown chip `mien`" text)
                 (string-match-p "did you mean" text))
      (check-fail "expected the unknown chip `mien' with a did-you-mean, got %S" text)))

  ;; hover on the imported chip's name
  (check-goto "= mine x 8" 3)
  (let* ((h (jsonrpc-request (eglot-current-server) :textDocument/hover (eglot--TextDocumentPositionParams)))
         (contents (plist-get h :contents))
         (value (if (stringp contents) contents (plist-get contents :value))))
    (message "hover: %s" (car (split-string (or value "") "\n")))
    (unless (and value (string-match-p "chip `mine`" value))
      (check-fail "the hover does not show chip `mine`: %S" value)))

  ;; go to definition of the stdlib link: its declaration in the read-only copy
  (check-goto "over nvlink5" 6)
  (xref-find-definitions (xref-backend-identifier-at-point (xref-find-backend)))
  (let ((file (buffer-file-name)))
    (message "definition: %s:%d" file (line-number-at-pos))
    (unless (and file (string-match-p "/links/nvlink\\.hplan\\'" file)
                 (looking-at-p "nvlink5"))
      (check-fail "definition of nvlink5 landed in %S at %S" file
                  (buffer-substring (line-beginning-position) (line-end-position))))
    (unless (or buffer-read-only (not (file-writable-p file)))
      (check-fail "the stdlib's copy %s is writable" file)))

  ;; rename the imported chip from the plan: both files change
  (switch-to-buffer (find-buffer-visiting plan))
  (check-goto "= mine x 8" 3)
  ;; eglot asks before an edit that reaches files other than this one: a user says yes
  (cl-letf (((symbol-function 'y-or-n-p) (lambda (&rest _) t)))
    (eglot-rename "ours"))
  (unless (string-match-p "pool gpu   = ours x 8" (buffer-string))
    (check-fail "the plan was not renamed: %S" (buffer-string)))
  (let ((b (find-buffer-visiting chips)))
    (unless (and b (with-current-buffer b (string-match-p "chip ours = b200" (buffer-string))))
      (check-fail "the imported file was not renamed")))
  (message "rename: plan.hplan and chips.hplan now say `ours'")
  (message "ok: Emacs %s, %s" emacs-version
           (file-name-nondirectory (directory-file-name (file-name-directory (locate-library "eglot")))))
  (kill-emacs 0))

;;; check.el ends here
