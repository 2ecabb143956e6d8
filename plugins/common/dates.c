/* The calendar rule: see dates.h. */
#include "dates.h"

static bool nfu_date_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool nfu_date_valid(int y, int m, int d)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < NFU_DATE_MIN_YEAR || y > NFU_DATE_MAX_YEAR || m < 1 || m > 12 || d < 1)
        return false;
    return d <= days[m - 1] + (m == 2 && nfu_date_leap(y));
}

bool nfu_date_valid_tm(const struct tm *tm)
{
    return nfu_date_valid(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday);
}
