/* json: see json.h. */
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "driver/json.h"

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0. */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void json_print_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		size_t l;

		switch (s[i]) {
		case '"':  fputs("\\\"", f); i++; continue;
		case '\\': fputs("\\\\", f); i++; continue;
		case '\n': fputs("\\n", f); i++; continue;
		case '\r': fputs("\\r", f); i++; continue;
		case '\t': fputs("\\t", f); i++; continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			fprintf(f, "\\u%04x", s[i]);
			i++;
			continue;
		}
		/* Paths need not be UTF-8; a stray byte is shown as its code point
		 * so the output stays valid JSON. */
		l = json_utf8_len(s + i, n - i);
		if (!l) {
			fprintf(f, "\\u%04x", s[i]);
			i++;
			continue;
		}
		fwrite(s + i, 1, l, f);
		i += l;
	}
	fputc('"', f);
}

void json_print_hex(FILE *f, const void *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;

	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		fputc(digits[p[i] >> 4], f);
		fputc(digits[p[i] & 15], f);
	}
	fputc('"', f);
}

/* Prints a double as a JSON number; JSON has no NaN or infinity. */
static void json_print_double(FILE *f, double d)
{
	if (isnan(d) || isinf(d))
		fputs("null", f);
	else
		fprintf(f, "%.17g", d);
}

/* Prints one value of a field; p points at the value (an array element for
 * repeated fields). */
static void json_print_value(FILE *f, const ProtobufCFieldDescriptor *fd, const void *p, int indent)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		fprintf(f, "%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		fprintf(f, "%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		fprintf(f, "%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		fprintf(f, "%" PRIu64, *(const uint64_t *)p);
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		json_print_double(f, *(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		json_print_double(f, *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		fputs(*(const protobuf_c_boolean *)p ? "true" : "false", f);
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value((const ProtobufCEnumDescriptor *)fd->descriptor, v);

		if (ev)
			json_print_string(f, ev->name);
		else
			fprintf(f, "%d", v);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;

		if (s)
			json_print_string(f, s);
		else
			fputs("null", f);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		json_print_hex(f, b->data, b->data ? b->len : 0);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;

		if (m)
			json_print_message(f, m, indent);
		else
			fputs("null", f);
		break;
	}
	default:
		fputs("null", f);
		break;
	}
}

/* Bytes one element of a repeated field takes in its C array. */
static size_t json_elem_size(const ProtobufCFieldDescriptor *fd)
{
	switch (fd->type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default:
		return sizeof(uint32_t);
	}
}

/* Is a non-repeated field set? Follows protobuf-c's own rule for packing:
 * pointers for messages and strings, the has_ flag for other optionals, the
 * case member for oneofs. */
static int json_field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *fd)
{
	const char *base = (const char *)msg;
	const void *member = base + fd->offset;

	if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + fd->quantifier_offset) == fd->id;
	if (fd->label == PROTOBUF_C_LABEL_REQUIRED || fd->label == PROTOBUF_C_LABEL_NONE)
		return 1;
	if (fd->type == PROTOBUF_C_TYPE_MESSAGE || fd->type == PROTOBUF_C_TYPE_STRING) {
		const void *ptr = *(const void *const *)member;

		return ptr && ptr != fd->default_value;
	}
	return *(const protobuf_c_boolean *)(base + fd->quantifier_offset) != 0;
}

void json_print_message(FILE *f, const ProtobufCMessage *msg, int indent)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	int first = 1;

	fputc('{', f);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		size_t n = 1;

		if (fd->label == PROTOBUF_C_LABEL_REPEATED)
			n = *(const size_t *)(base + fd->quantifier_offset);
		else if (!json_field_present(msg, fd))
			continue;
		fprintf(f, "%s\n%*s", first ? "" : ",", indent + 2, "");
		first = 0;
		json_print_string(f, fd->name);
		fputs(": ", f);
		if (fd->label != PROTOBUF_C_LABEL_REPEATED) {
			json_print_value(f, fd, base + fd->offset, indent + 2);
			continue;
		}

		/* Repeated: scalars on one line, messages one per line. */
		const char *arr = *(char *const *)(base + fd->offset);
		size_t sz = json_elem_size(fd);
		int nested = fd->type == PROTOBUF_C_TYPE_MESSAGE;

		fputc('[', f);
		for (size_t j = 0; arr && j < n; j++) {
			if (nested)
				fprintf(f, "%s\n%*s", j ? "," : "", indent + 4, "");
			else if (j)
				fputs(", ", f);
			json_print_value(f, fd, arr + j * sz, indent + 4);
		}
		if (nested && n)
			fprintf(f, "\n%*s", indent + 2, "");
		fputc(']', f);
	}
	if (msg->n_unknown_fields) {
		fprintf(f, "%s\n%*s\"_unknown_fields\": %u", first ? "" : ",", indent + 2, "",
			msg->n_unknown_fields);
		first = 0;
	}
	if (!first)
		fprintf(f, "\n%*s", indent, "");
	fputc('}', f);
}
