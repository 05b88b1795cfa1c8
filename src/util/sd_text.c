/*
 * sd_text.c - dates, timestamps and numbers as text, the way Spark and
 * DuckDB print them, so that our output can be compared with theirs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Howard Hinnant's civil-from-days algorithms: exact for the whole int64
 * range of days we can meet, no time-zone database involved. */
int64_t sd_days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void sd_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

void sd_format_date(int64_t days, sd_buf *out) {
    int64_t y;
    unsigned m, d;
    sd_civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999)
        sd_buf_appendf(out, "%04lld-%02u-%02u", (long long)y, m, d);
    else
        sd_buf_appendf(out, "%lld-%02u-%02u", (long long)y, m, d);
}

void sd_format_timestamp(int64_t micros, sd_buf *out) {
    int64_t secs = micros / 1000000, frac = micros % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    sd_format_date(days, out);
    sd_buf_appendf(out, " %02d:%02d:%02d", (int)(sod / 3600), (int)(sod / 60 % 60),
                   (int)(sod % 60));
    if (frac) sd_buf_appendf(out, ".%06d", (int)frac);
}

static bool sd_parse_uint(const char *s, size_t n, size_t *pos, int digits, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < digits; i++) {
        if (*pos >= n || s[*pos] < '0' || s[*pos] > '9') return false;
        v = v * 10 + (unsigned)(s[(*pos)++] - '0');
    }
    *out = v;
    return true;
}

static bool sd_days_in_range(unsigned y, unsigned m, unsigned d) {
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1) return false;
    unsigned lim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) lim = 29;
    return d <= lim;
}

static bool sd_parse_date_prefix(const char *s, size_t n, size_t *pos, int32_t *days) {
    unsigned y, m, d;
    if (!sd_parse_uint(s, n, pos, 4, &y) || *pos >= n || s[(*pos)++] != '-') return false;
    if (!sd_parse_uint(s, n, pos, 2, &m) || *pos >= n || s[(*pos)++] != '-') return false;
    if (!sd_parse_uint(s, n, pos, 2, &d)) return false;
    if (!sd_days_in_range(y, m, d)) return false;
    *days = (int32_t)sd_days_from_civil(y, m, d);
    return true;
}

bool sd_parse_date(const char *s, size_t n, int32_t *days) {
    size_t pos = 0;
    return sd_parse_date_prefix(s, n, &pos, days) && pos == n;
}

bool sd_parse_timestamp(const char *s, size_t n, int64_t *micros) {
    size_t pos = 0;
    int32_t days;
    unsigned hh = 0, mi = 0, ss = 0;
    int64_t frac = 0;
    if (!sd_parse_date_prefix(s, n, &pos, &days)) return false;
    if (pos < n && (s[pos] == ' ' || s[pos] == 'T')) {
        pos++;
        if (!sd_parse_uint(s, n, &pos, 2, &hh) || pos >= n || s[pos++] != ':') return false;
        if (!sd_parse_uint(s, n, &pos, 2, &mi)) return false;
        if (pos < n && s[pos] == ':') {
            pos++;
            if (!sd_parse_uint(s, n, &pos, 2, &ss)) return false;
        }
        if (pos < n && s[pos] == '.') {
            pos++;
            int digits = 0;
            while (pos < n && s[pos] >= '0' && s[pos] <= '9') {
                if (digits < 6) frac = frac * 10 + (s[pos] - '0');
                digits++;
                pos++;
            }
            if (digits == 0) return false;
            for (int i = digits; i < 6; i++) frac *= 10;
        }
        if (hh > 23 || mi > 59 || ss > 60) return false;
    }
    if (pos < n && s[pos] == 'Z')
        pos++;
    else if (pos + 6 == n && (s[pos] == '+' || s[pos] == '-') &&
             strncmp(s + pos + 1, "00:00", 5) == 0)
        pos += 6;
    if (pos != n) return false;
    *micros = ((int64_t)days * 86400 + hh * 3600 + mi * 60 + ss) * 1000000 + frac;
    return true;
}

static bool sd_format_special(double v, sd_buf *out) {
    if (isnan(v)) {
        sd_buf_append_str(out, "NaN");
        return true;
    }
    if (isinf(v)) {
        sd_buf_append_str(out, v > 0 ? "Infinity" : "-Infinity");
        return true;
    }
    return false;
}

/* `prec` significant digits of v, in plain notation when its decimal
 * exponent is in [-5, 16) ("10", "0.0001", "123456789"), otherwise
 * %g's exponent form ("1e+20"): %g alone would print 10 as "1e+01". */
static void sd_format_digits(double v, int prec, char *tmp, size_t n) {
    snprintf(tmp, n, "%.*e", prec - 1, v);
    int exp = atoi(strchr(tmp, 'e') + 1);
    if (exp >= -5 && exp < 16)
        snprintf(tmp, n, "%.*f", exp >= prec - 1 ? 0 : prec - 1 - exp, v);
    else
        snprintf(tmp, n, "%.*g", prec, v);
}

/* Powers of ten that doubles hold exactly. */
static const double sd_pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};

/* The common case of data values with few decimals (a rating of 7.3, a
 * price of 12.99): find the fewest fraction digits d <= 6 for which
 * round(v * 10^d) / 10^d reads back as v, and print that integer with the
 * point put in by hand. It skips the printf/strtod search below, which made
 * `show --format csv` of float columns 3x slower. The quotient of two exact
 * doubles is correctly rounded, so the check is exact for doubles; for
 * floats it is rounded twice, which can only err where a value sits on a
 * float rounding boundary, and then the slow path's result is the same text.
 * Returns false when v needs more digits or another notation. */
static bool sd_format_short_decimal(double v, bool is_float, sd_buf *out) {
    double a = fabs(v);
    if (!(a >= 1e-5 && a < 1e15)) return false;
    for (int d = 0; d <= 6; d++) {
        double r = nearbyint(v * sd_pow10[d]);
        if (fabs(r) >= 9e15) return false;
        double back = r / sd_pow10[d];
        if (is_float ? (float)back != (float)v : back != v) continue;
        long long n = (long long)r;
        unsigned long long u = n < 0 ? (unsigned long long)(-n) : (unsigned long long)n;
        char digits[32];
        int len = 0;
        do {
            digits[len++] = (char)('0' + (int)(u % 10));
            u /= 10;
        } while (u != 0);
        while (len <= d) digits[len++] = '0'; /* 0.05: enough digits for "0." */
        if (signbit(v)) sd_buf_append_byte(out, '-');
        for (int i = len - 1; i >= 0; i--) {
            sd_buf_append_byte(out, (uint8_t)digits[i]);
            if (i == d && d > 0) sd_buf_append_byte(out, '.');
        }
        return true;
    }
    return false;
}

void sd_format_float(float v, sd_buf *out) {
    if (sd_format_special(v, out)) return;
    if (sd_format_short_decimal((double)v, true, out)) return;
    char tmp[64];
    for (int prec = 1; prec <= 9; prec++) {
        sd_format_digits((double)v, prec, tmp, sizeof(tmp));
        if (strtof(tmp, NULL) == v) break;
    }
    sd_buf_append_str(out, tmp);
}

void sd_format_double(double v, sd_buf *out) {
    if (sd_format_special(v, out)) return;
    if (sd_format_short_decimal(v, false, out)) return;
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        sd_format_digits(v, prec, tmp, sizeof(tmp));
        if (strtod(tmp, NULL) == v) break;
    }
    sd_buf_append_str(out, tmp);
}

void sd_format_decimal(__int128 unscaled, int scale, sd_buf *out) {
    char digits[64];
    int n = 0;
    bool neg = unscaled < 0;
    unsigned __int128 u =
        neg ? (unsigned __int128)(-(unscaled + 1)) + 1 : (unsigned __int128)unscaled;
    do {
        digits[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0);
    while (n <= scale) digits[n++] = '0';
    if (neg) sd_buf_append_byte(out, '-');
    for (int i = n - 1; i >= 0; i--) {
        sd_buf_append_byte(out, (uint8_t)digits[i]);
        if (i == scale && scale > 0) sd_buf_append_byte(out, '.');
    }
}

void sd_format_value(const sd_value *v, sd_buf *out) {
    if (v->is_null) {
        sd_buf_append_str(out, "null");
        return;
    }
    switch (v->kind) {
        case SD_BOOL:
            sd_buf_append_str(out, v->u.b ? "true" : "false");
            break;
        case SD_FLOAT:
            sd_format_float((float)v->u.d, out);
            break;
        case SD_DOUBLE:
            sd_format_double(v->u.d, out);
            break;
        case SD_DECIMAL:
            sd_format_decimal(v->u.dec, v->scale, out);
            break;
        case SD_DATE:
            sd_format_date(v->u.i, out);
            break;
        case SD_TIMESTAMP:
        case SD_TIMESTAMP_NTZ:
            sd_format_timestamp(v->u.i, out);
            break;
        case SD_STRING:
            sd_buf_append(out, v->u.s.ptr, v->u.s.len);
            break;
        case SD_BINARY:
            for (size_t i = 0; i < v->u.s.len; i++) sd_buf_appendf(out, "%02x", v->u.s.ptr[i]);
            break;
        default:
            sd_buf_appendf(out, "%lld", (long long)v->u.i);
            break;
    }
}

int64_t sd_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
