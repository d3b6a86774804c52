/* json: print any protobuf-c message as JSON by walking its descriptor.
 *
 * One generic walker serves every image and state message ('amber show'),
 * so no per-message printing code exists. Mapping:
 *	integers, floats	JSON numbers (uint64 too; addresses stay exact
 *				in jq and Python, but not in JavaScript)
 *	bool			true / false
 *	enum			its name ("VMA_ANON_PRIVATE"), the number if unknown
 *	string			a JSON string; bytes that are not UTF-8 become \u00XX
 *	bytes			a hex string ("0a1b...")
 *	message			a nested object
 *	repeated		an array (scalars on one line)
 *	oneof			only the member that is set
 *	optional, absent	omitted
 *	unknown fields		"_unknown_fields": count, when there are any
 */
#ifndef AMBER_JSON_H
#define AMBER_JSON_H

#include <stdio.h>
#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

/* Prints msg as a JSON object. The opening brace goes at the current output
 * position; fields are indented by indent + 2 spaces and the closing brace by
 * indent, with no trailing newline. Write errors show in ferror(f). */
void json_print_message(FILE *f, const ProtobufCMessage *msg, int indent);

/* Prints s as a JSON string literal, quotes included. */
void json_print_string(FILE *f, const char *s);
/* Prints n bytes as a JSON string of lowercase hex digits. */
void json_print_hex(FILE *f, const void *data, size_t n);

#endif
