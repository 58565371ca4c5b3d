/*
 * common.h - included first by every cairn source file.
 *
 * Pulls in the few standard headers every module needs and poisons the
 * unbounded string functions (STYLE.md, convention 9): use snprintf and
 * bounded copies instead.
 */
#ifndef CAIRN_COMMON_H
#define CAIRN_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "cairn/err.h"

#define CAIRN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CAIRN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CAIRN_MAX(a, b) ((a) > (b) ? (a) : (b))

#if defined(__GNUC__) && !defined(CAIRN_NO_POISON)
#pragma GCC poison sprintf vsprintf strcpy strcat strncpy gets
#endif

#endif
