/* external: parse and print the keys of outside objects; see external.h. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/external.h"

/* Reads one number of a key, from s up to the first character of stop.
 * Decimal unless 0x; a bare number with a hex letter is refused rather
 * than guessed. *next is the character that ended it. */
static int ext_number(const char *key, const char *s, const char *stop, uint64_t *v, const char **next, struct err *e)
{
	size_t n = strcspn(s, stop);
	bool hex = n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	char tok[32];
	char *end;

	if (!n || n >= sizeof(tok))
		return err_input(e, "'%s': want a number at '%s'", key, s);
	memcpy(tok, s, n);
	tok[n] = 0;
	for (size_t i = hex ? 2 : 0; i < n; i++) {
		if (isdigit((unsigned char)tok[i]) || (hex && isxdigit((unsigned char)tok[i])))
			continue;
		if (!hex && isxdigit((unsigned char)tok[i]))
			return err_input(e, "'%s': '%s' is not a decimal number; if it is hexadecimal (as CRIU prints "
					 "these keys), write it 0x%s", key, tok, tok);
		return err_input(e, "'%s': '%s' is not a number", key, tok);
	}
	errno = 0;
	*v = strtoull(hex ? tok + 2 : tok, &end, hex ? 16 : 10);
	if (errno || *end)
		return err_input(e, "'%s': '%s' is out of range", key, tok);
	*next = s + n;
	return 0;
}

/* Parses "A:B]" or "A]" (two == false) after a key's opening bracket. */
static int ext_numbers(const char *key, const char *s, bool two, struct ext_key *k, struct err *e)
{
	const char *p;
	int ret;

	if ((ret = ext_number(key, s, two ? ":]" : "]", &k->a, &p, e)) < 0)
		return ret;
	if (two) {
		if (*p != ':')
			return err_input(e, "'%s': want two numbers, A:B, inside the brackets", key);
		if ((ret = ext_number(key, p + 1, "]", &k->b, &p, e)) < 0)
			return ret;
	}
	if (p[0] != ']' || p[1])
		return err_input(e, "'%s': want ']' to end the key, found '%s'", key, p);
	return 0;
}

int ext_parse(const char *s, bool allow_path, struct ext_key *k, struct err *e)
{
	static const struct { const char *prefix; enum ext_kind kind; bool two; } forms[] = {
		{ "file[", EXT_FILE, true },	  { "tty[", EXT_TTY, true },   { "socket:[", EXT_SOCKET, false },
		{ "unix[", EXT_SOCKET, false }, { "pipe:[", EXT_PIPE, false }, { "pipe[", EXT_PIPE, false },
	};
	size_t word = strspn(s, "abcdefghijklmnopqrstuvwxyz");

	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (!strncmp(s, forms[i].prefix, strlen(forms[i].prefix))) {
			k->kind = forms[i].kind;
			return ext_numbers(s, s + strlen(forms[i].prefix), forms[i].two, k, e);
		}
	/* Looks like a key (a word, then '[' or ':['), but not one amber knows. */
	if (word && (s[word] == '[' || (s[word] == ':' && s[word + 1] == '[')))
		return err_input(e, "'%s': unknown kind of key; amber knows file[MNT_ID:INODE], tty[RDEV:DEV], "
				 "unix[INODE] or socket:[INODE], pipe[INODE] or pipe:[INODE]%s", s,
				 allow_path ? " and paths" : "");
	if (!allow_path || !*s)
		return err_input(e, "'%s' is not a key; want file[MNT_ID:INODE], tty[RDEV:DEV], unix[INODE] or "
				 "pipe[INODE]", s);
	/* A path, as CRIU's users write it relative to the root or absolute. */
	if (snprintf(k->path, sizeof(k->path), "%s%s", s[0] == '/' ? "" : "/", s) >= (int)sizeof(k->path))
		return err_input(e, "path key '%.64s...' is too long", s);
	k->kind = EXT_PATH;
	return 0;
}

int ext_parse_inherit(const char *s, int *fd, struct ext_key *k, struct err *e)
{
	uint64_t n;
	const char *p;
	int ret;

	if (strncmp(s, "fd[", 3))
		return err_input(e, "--inherit-fd '%s': want fd[N]:KEY, e.g. fd[3]:pipe:[12345]", s);
	if ((ret = ext_number(s, s + 3, "]", &n, &p, e)) < 0)
		return ret;
	if (p[0] != ']' || p[1] != ':' || !p[2])
		return err_input(e, "--inherit-fd '%s': want fd[N]:KEY, e.g. fd[3]:pipe:[12345]", s);
	if (n > 1u << 20)
		return err_input(e, "--inherit-fd '%s': fd %" PRIu64 " is out of range", s, n);
	*fd = (int)n;
	return ext_parse(p + 2, true, k, e);
}

const char *ext_format(const struct ext_key *k, char *buf, size_t size)
{
	switch (k->kind) {
	case EXT_FILE:
		snprintf(buf, size, "file[%" PRIu64 ":%" PRIu64 "]", k->a, k->b);
		break;
	case EXT_TTY:
		snprintf(buf, size, "tty[%#" PRIx64 ":%#" PRIx64 "]", k->a, k->b);
		break;
	case EXT_SOCKET:
		snprintf(buf, size, "socket:[%" PRIu64 "]", k->a);
		break;
	case EXT_PIPE:
		snprintf(buf, size, "pipe:[%" PRIu64 "]", k->a);
		break;
	case EXT_PATH:
		snprintf(buf, size, "%s", k->path);
		break;
	default:
		snprintf(buf, size, "?");
	}
	return buf;
}

bool ext_equal(const struct ext_key *x, const struct ext_key *y)
{
	if (x->kind != y->kind)
		return false;
	if (x->kind == EXT_PATH)
		return !strcmp(x->path, y->path);
	return x->a == y->a && x->b == y->b;
}
