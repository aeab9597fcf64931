# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Split application source into code, comments and string literals.

Languages: Python, Go, Java, JavaScript/TypeScript, Ruby, Rust, and a C-like fallback
for other extensions. What is recognised: line and block comments (Rust's nest), the
string forms each language has (Python prefixes and triple quotes, Go raw strings, Java
text blocks, JS template literals, Ruby heredocs and %-literals, Rust raw and byte
strings), character literals and Rust lifetimes, and (heuristically) JS/Ruby regular
expression literals, so that a quote inside one does not derail the rest of the file.

The result is the list of string literals (offsets of their contents, what escapes or
interpolation they allow, whether they are Python docstrings) and the source with every
comment and literal blanked out (same length, newlines kept) for matching code."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

from ansible_collections.pgtviews.ops.plugins.module_utils.scan.sqllex import scan_block_comment

# start/end: the literal's content (between the delimiters), end exclusive.
# escapes: a backslash is an escape character inside it.
# interp: the interpolation opener it allows ('{', '${', '#{') or ''.
StrLit = namedtuple('StrLit', 'start end escapes interp docstring')

LANGUAGES = {
    '.py': 'python', '.pyi': 'python',
    '.go': 'go',
    '.java': 'java',
    '.js': 'js', '.jsx': 'js', '.mjs': 'js', '.cjs': 'js', '.ts': 'js', '.tsx': 'js', '.mts': 'js', '.cts': 'js',
    '.rb': 'ruby', '.rake': 'ruby',
    '.rs': 'rust',
    '.sql': 'sql', '.pgsql': 'sql', '.psql': 'sql',
}

_PY_STRING = re.compile(r'([rRbBuUfF]{0,2})(\'\'\'|"""|\'|")')
_RUST_STRING = re.compile(r'(b|c)?r(#*)"|(b|c)?"')
_RUST_CHAR = re.compile(r"b?'(?:\\(?:u\{[0-9a-fA-F]{1,6}\}|x[0-9a-fA-F]{2}|.)|[^\\'\n])'")
_GO_JAVA_CHAR = re.compile(r"'(?:\\[^\n]+?|[^\\'\n])'")
_RUBY_PERCENT = re.compile(r'%([qQwWiIrsx]?)([^\w\s])')
_RUBY_HEREDOC = re.compile(r'<<([~-]?)(["\'`]?)([A-Za-z_][A-Za-z0-9_]*)\2')
_WORD = re.compile(r'[\w$]+')
_REGEX_PREV_WORDS = ('return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw',
                     'when', 'if', 'unless', 'and', 'or', 'not', 'yield', 'await')
_PAIRS = {'(': ')', '[': ']', '{': '}', '<': '>'}


def language_for(path):
    """The language of a file from its extension; 'generic' when unknown."""
    dot = path.rfind('.')
    ext = path[dot:].lower() if dot >= 0 else ''
    return LANGUAGES.get(ext, 'generic')


class _Lexer(object):

    def __init__(self, text, language):
        self.text = text
        self.n = len(text)
        self.lang = language
        self.strings = []
        self.blanks = []        # (start, end) spans to blank out in the code view
        self.pending_heredocs = []

    # -- helpers -----------------------------------------------------------------------
    def blank(self, start, end):
        if end > start:
            self.blanks.append((start, end))

    def add_string(self, lit_start, content_start, content_end, lit_end, escapes, interp, docstring=False):
        self.strings.append(StrLit(content_start, content_end, escapes, interp, docstring))
        self.blank(lit_start, lit_end)

    def find_close(self, i, close, escapes, stop_at_newline=False):
        """Offset of ``close`` at or after ``i`` (honouring backslash escapes), or None."""
        text = self.text
        n = self.n
        while i < n:
            c = text[i]
            if escapes and c == '\\':
                i += 2
                continue
            if stop_at_newline and c == '\n':
                return None
            if text.startswith(close, i):
                return i
            i += 1
        return None

    def prev_significant(self, i):
        """(char, word) before offset i in code, skipping whitespace and blanked spans."""
        j = i - 1
        blanks = self.blanks
        k = len(blanks) - 1
        while j >= 0:
            while k >= 0 and blanks[k][0] > j:
                k -= 1
            if k >= 0 and blanks[k][0] <= j < blanks[k][1]:
                j = blanks[k][0] - 1
                continue
            if not self.text[j].isspace():
                break
            j -= 1
        if j < 0:
            return '', ''
        c = self.text[j]
        if c.isalnum() or c in '_$':
            s = j
            while s > 0 and (self.text[s - 1].isalnum() or self.text[s - 1] in '_$'):
                s -= 1
            return c, self.text[s:j + 1]
        return c, ''

    def regex_allowed(self, i):
        c, word = self.prev_significant(i)
        if word:
            return word in _REGEX_PREV_WORDS
        return c == '' or c in '(,=:[!&|?{};+-*%<>~^'

    # -- comment forms -----------------------------------------------------------------
    def line_comment(self, i):
        end = self.text.find('\n', i)
        end = self.n if end < 0 else end
        self.blank(i, end)
        return end

    def block_comment(self, i, nested):
        if nested:
            end = scan_block_comment(self.text, i)[0]
        else:
            end = self.text.find('*/', i + 2)
            end = self.n if end < 0 else end + 2
        self.blank(i, end)
        return end

    # -- string forms ------------------------------------------------------------------
    def simple_string(self, i, quote, escapes, interp='', multiline=False, prefix_len=0):
        """A literal opened by ``quote`` at i + prefix_len and closed by the same quote."""
        open_end = i + prefix_len + len(quote)
        close = self.find_close(open_end, quote, escapes, stop_at_newline=not multiline)
        if close is None:
            end = self.text.find('\n', open_end) if not multiline else -1
            end = self.n if end < 0 else end
            self.add_string(i, open_end, end, end, escapes, interp)
            return end
        self.add_string(i, open_end, close, close + len(quote), escapes, interp)
        return close + len(quote)

    def js_template(self, i):
        text = self.text
        j = i + 1
        while j < self.n:
            c = text[j]
            if c == '\\':
                j += 2
                continue
            if c == '`':
                self.add_string(i, i + 1, j, j + 1, True, '${')
                return j + 1
            if text.startswith('${', j):
                depth = 0
                while j < self.n:
                    if text[j] == '{':
                        depth += 1
                    elif text[j] == '}':
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
            j += 1
        self.add_string(i, i + 1, self.n, self.n, True, '${')
        return self.n

    def python_string(self, i, m):
        prefix, quote = m.group(1).lower(), m.group(2)
        interp = '{' if 'f' in prefix else ''
        open_end = m.end()
        close = self.find_close(open_end, quote, True, stop_at_newline=len(quote) == 1)
        if close is None:
            end = self.text.find('\n', open_end) if len(quote) == 1 else -1
            end = self.n if end < 0 else end
            content_end, lit_end = end, end
        else:
            content_end, lit_end = close, close + len(quote)
        docstring = len(quote) == 3 and self.python_docstring(i, lit_end)
        self.add_string(i, open_end, content_end, lit_end, 'r' not in prefix, interp, docstring)
        return lit_end

    def python_docstring(self, start, end):
        """A triple-quoted literal that is a statement of its own right after a line
        ending in ':' (or at the top of the module) is a docstring, i.e. a comment."""
        line_start = self.text.rfind('\n', 0, start) + 1
        if self.text[line_start:start].strip():
            return False
        rest_end = self.text.find('\n', end)
        rest = self.text[end:self.n if rest_end < 0 else rest_end].strip()
        if rest and not rest.startswith('#'):
            return False
        c, dummy = self.prev_significant(line_start)
        return c in ('', ':')

    def rust_string(self, i, m):
        if m.group(2) is not None:
            hashes = m.group(2)
            close_seq = '"' + hashes
            close = self.text.find(close_seq, m.end())
            if close < 0:
                self.add_string(i, m.end(), self.n, self.n, False, '')
                return self.n
            self.add_string(i, m.end(), close, close + len(close_seq), False, '')
            return close + len(close_seq)
        return self.simple_string(i, '"', True, multiline=True, prefix_len=len(m.group(0)) - 1)

    def ruby_percent(self, i, m):
        kind, opener = m.group(1), m.group(2)
        closer = _PAIRS.get(opener, opener)
        interp = '' if kind in ('q', 'w', 'i', 's') else '#{'
        text = self.text
        j = m.end()
        depth = 1
        while j < self.n:
            c = text[j]
            if c == '\\':
                j += 2
                continue
            if opener != closer and c == opener:
                depth += 1
            elif c == closer:
                depth -= 1
                if depth == 0:
                    self.add_string(i, m.end(), j, j + 1, True, interp)
                    return j + 1
            j += 1
        self.add_string(i, m.end(), self.n, self.n, True, interp)
        return self.n

    def ruby_heredoc_bodies(self, newline_at):
        """Consume the bodies of the heredocs opened on the line ending at newline_at."""
        i = newline_at + 1
        for flavour, quote, tag in self.pending_heredocs:
            start = i
            while i < self.n:
                end = self.text.find('\n', i)
                end = self.n if end < 0 else end
                line = self.text[i:end]
                if (line.strip() if flavour else line.rstrip('\r')) == tag:
                    self.add_string(start, start, i, end, quote != "'", '' if quote == "'" else '#{')
                    i = end + 1 if end < self.n else end
                    break
                i = end + 1
            else:
                self.add_string(start, start, self.n, self.n, quote != "'", '' if quote == "'" else '#{')
                i = self.n
        self.pending_heredocs = []
        return max(i, newline_at + 1)

    def regex_literal(self, i):
        """A /regex/ literal on one line (JS, Ruby); None when it is not one."""
        text = self.text
        j = i + 1
        in_class = False
        while j < self.n and text[j] != '\n':
            c = text[j]
            if c == '\\':
                j += 2
                continue
            if c == '[':
                in_class = True
            elif c == ']':
                in_class = False
            elif c == '/' and not in_class:
                self.blank(i, j + 1)
                return j + 1
            j += 1
        return None

    # -- main loop ---------------------------------------------------------------------
    def run(self):
        text = self.text
        lang = self.lang
        c_like = lang in ('go', 'java', 'js', 'rust', 'generic')
        i = 0
        while i < self.n:
            c = text[i]
            if c == '\n':
                if self.pending_heredocs:
                    i = self.ruby_heredoc_bodies(i)
                else:
                    i += 1
                continue
            if c.isalpha() or c == '_':
                if lang == 'python':
                    m = _PY_STRING.match(text, i)
                    if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
                        i = self.python_string(i, m)
                        continue
                elif lang == 'rust' and c in 'bcr':
                    m = _RUST_STRING.match(text, i)
                    if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
                        i = self.rust_string(i, m)
                        continue
                    m = _RUST_CHAR.match(text, i) if c == 'b' else None
                    if m:
                        self.blank(i, m.end())
                        i = m.end()
                        continue
                i = _WORD.match(text, i).end()
                continue
            if c_like and text.startswith('//', i):
                i = self.line_comment(i)
                continue
            if c_like and text.startswith('/*', i):
                i = self.block_comment(i, nested=(lang == 'rust'))
                continue
            if lang in ('python', 'ruby') and c == '#':
                i = self.line_comment(i)
                continue
            if lang == 'ruby' and text.startswith('=begin', i) and (i == 0 or text[i - 1] == '\n'):
                end = text.find('\n=end', i)
                end = self.n if end < 0 else text.find('\n', end + 1)
                end = self.n if end < 0 else end
                self.blank(i, end)
                i = end
                continue
            if lang == 'python' and c in '\'"':
                i = self.python_string(i, _PY_STRING.match(text, i))
                continue
            if lang == 'rust':
                if c == '"':
                    i = self.simple_string(i, '"', True, multiline=True)
                    continue
                if c == "'":
                    m = _RUST_CHAR.match(text, i)
                    if m:
                        self.blank(i, m.end())
                        i = m.end()
                    else:
                        i += 1      # a lifetime such as 'a
                    continue
            if lang in ('go', 'java') and c == "'":
                m = _GO_JAVA_CHAR.match(text, i)
                if m:
                    self.blank(i, m.end())
                    i = m.end()
                    continue
            if lang == 'go' and c == '`':
                i = self.simple_string(i, '`', False, multiline=True)
                continue
            if lang == 'java' and text.startswith('"""', i):
                i = self.simple_string(i, '"""', True, multiline=True)
                continue
            if lang == 'js' and c == '`':
                i = self.js_template(i)
                continue
            if lang == 'ruby':
                if c == '"' or c == '`':
                    i = self.simple_string(i, c, True, interp='#{', multiline=True)
                    continue
                if c == "'":
                    i = self.simple_string(i, "'", True, multiline=True)
                    continue
                if c == '%':
                    m = _RUBY_PERCENT.match(text, i)
                    if m and (m.group(1) or self.regex_allowed(i)):
                        i = self.ruby_percent(i, m)
                        continue
                if text.startswith('<<', i):
                    m = _RUBY_HEREDOC.match(text, i)
                    if m and (m.group(1) or m.group(2) or m.group(3)[0].isupper()):
                        self.pending_heredocs.append((m.group(1), m.group(2), m.group(3)))
                        self.blank(i, m.end())
                        i = m.end()
                        continue
            if lang in ('go', 'java', 'js', 'generic') and c in '"\'':
                i = self.simple_string(i, c, True)
                continue
            if lang in ('js', 'ruby') and c == '/' and self.regex_allowed(i):
                end = self.regex_literal(i)
                if end is not None:
                    i = end
                    continue
            i += 1
        return self


def lex_source(text, language):
    """(string literals, code view) of ``text`` in ``language``."""
    lexer = _Lexer(text, language).run()
    chars = list(text)
    for start, end in lexer.blanks:
        for k in range(start, min(end, len(chars))):
            if chars[k] != '\n':
                chars[k] = ' '
    return lexer.strings, ''.join(chars)
