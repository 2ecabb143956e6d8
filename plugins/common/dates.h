/* The calendar rule every plugin that reads a date shares: which days exist (30 February does
 * not, 29 February only in a leap year) and which years a news date may carry. Reading the
 * many written forms of a date stays with each plugin; this only says whether the result is a
 * real day. */
#ifndef NF_DATES_H
#define NF_DATES_H

#include <stdbool.h>
#include <time.h>

/* Years a date of an article may have: older ones are archive numbers or other figures read
 * as a year, later ones typing errors. The widest limits the plugins used before, so no date
 * any of them accepted is refused by adopting this check. */
#define NFU_DATE_MIN_YEAR 1900
#define NFU_DATE_MAX_YEAR 2200

/* Whether year y, month m (1-12) and day d (1-31) name a day of the Gregorian calendar within
 * NFU_DATE_MIN_YEAR..NFU_DATE_MAX_YEAR. */
bool nfu_date_valid(int y, int m, int d);

/* The same for a broken-down time as strptime fills it (tm_year since 1900, tm_mon from 0),
 * which takes "2024-02-31" and "2023-02-29" as they are written. */
bool nfu_date_valid_tm(const struct tm *tm);

#endif
