/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-station.c: the station's screens under load (issue 9,
 * "Performance"), on a store seeded with 100 000 terminals, measured with
 * GTK's frame clock.  Runs under Xvfb (xvfb-run -a), cairo renderer.
 *
 * 1. Start to first frame: this program spawns itself (--child) for each
 *    run; the child does what PpApplication's activate does (opens the
 *    store, builds PpWindow, presents it) and prints the monotonic time of
 *    the window's first "after-paint" and of the first one with the
 *    inventory's rows; the parent took the time just before exec.  The
 *    baseline: a child that presents an empty GtkWindow.  Runs alternate.
 * 2. Inventory scroll: in this process, the window's inventory page, its
 *    vertical adjustment moved by a tick callback every frame so that the
 *    whole list passes in --frames frames; each frame's work (the frame
 *    clock's "update" to its "after-paint") and the intervals between frame
 *    times.  The baseline: the same scroll over a GtkListView of a plain
 *    GtkStringList of as many strings.
 *
 *   bench-station [--terminals N] [--runs N] [--frames N] [--quick] [--db PATH]
 *
 * --db keeps the seeded store at PATH; a later run with the same PATH
 * reuses it instead of seeding again.
 */
#include "config.h"

#include <locale.h>
#include <stdlib.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "pp-store.h"
#include "pp-window.h"

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

static int
cmp_double (gconstpointer a,
            gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
percentile (GArray *v,
            double  p)
{
  if (v->len == 0)
    return 0;
  g_array_sort (v, cmp_double);
  return g_array_index (v, double, MIN (v->len - 1, (guint) (p * v->len)));
}

/* ---- the child: one start, two times printed ---- */

typedef struct {
  GtkWidget *window;
  gboolean   want_rows;
  gint64     first_frame;
  gint64     rows_frame;
  gboolean   done;
} Start;

/* Rows in the inventory's column view (not only counted by its model). */
static gboolean
view_has_rows (GtkWidget *window)
{
  PpInventoryPage *page = pp_window_get_inventory_page (PP_WINDOW (window));
  GListModel *shown = G_LIST_MODEL (gtk_column_view_get_model (pp_inventory_page_get_column_view (page)));

  return shown != NULL && g_list_model_get_n_items (shown) > 0;
}

static gboolean
has_rows (Start *s)
{
  return !s->want_rows || view_has_rows (s->window);
}

static void
on_start_after_paint (GdkFrameClock *clock,
                      Start         *s)
{
  gint64 t = now_us ();

  if (s->first_frame == 0)
    s->first_frame = t;
  if (s->rows_frame == 0 && has_rows (s))
    {
      s->rows_frame = t;
      s->done = TRUE;
    }
}

static void
on_start_realize (GtkWidget *widget,
                  Start     *s)
{
  g_signal_connect (gtk_widget_get_frame_clock (widget), "after-paint", G_CALLBACK (on_start_after_paint), s);
}

static int
run_child (const char *mode,
           const char *db)
{
  Start s = { 0, };
  g_autoptr(PpStore) store = NULL;
  g_autoptr(GError) error = NULL;

  adw_init ();
  if (g_str_equal (mode, "window"))
    {
      store = pp_store_open (db, &error);
      if (store == NULL)
        g_error ("%s: %s", db, error->message);
      s.window = GTK_WIDGET (pp_window_new (NULL, store));
      /* The inventory comes after the sign-in (a demo account). */
      pp_window_sign_in (PP_WINDOW (s.window), "alice", PP_STORE_DEMO_PASSWORD);
      s.want_rows = TRUE;
    }
  else
    s.window = gtk_window_new ();
  gtk_window_set_default_size (GTK_WINDOW (s.window), 1200, 760);
  g_signal_connect (s.window, "realize", G_CALLBACK (on_start_realize), &s);
  gtk_window_present (GTK_WINDOW (s.window));
  while (!s.done)
    {
      g_main_context_iteration (NULL, TRUE);
      /* the frame clock paints only on change: ask for frames until the rows are in */
      if (s.first_frame != 0 && !s.done)
        gtk_widget_queue_draw (s.window);
    }
  g_print ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n", s.first_frame, s.rows_frame);
  gtk_window_destroy (GTK_WINDOW (s.window));
  return 0;
}

/* Spawns `SELF --child MODE DB`: the times from just before exec to its
 * first frame and to its first frame with rows, in seconds. */
static void
spawn_start (const char *self,
             const char *mode,
             const char *db,
             double     *first,
             double     *rows)
{
  const char *argv[] = { self, "--child", mode, db, NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0, f = 0, r = 0;
  int status = 0;

  t0 = now_us ();
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("the %s child: %s", mode, error->message);
  if (sscanf (out, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, &f, &r) != 2)
    g_error ("the %s child printed %s", mode, out);
  *first = (f - t0) / 1e6;
  *rows = (r - t0) / 1e6;
}

/* ---- the scroll ---- */

typedef struct {
  GtkAdjustment *adj;
  guint          frames;
  guint          frame;
  double         step;
  gint64         update_at;
  gint64         last_frame_time;
  GArray        *work;       /* ms per frame: update .. after-paint */
  GArray        *interval;   /* ms between frame times */
  gboolean       done;
} Scroll;

static gboolean
scroll_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       data)
{
  Scroll *s = data;

  if (s->frame >= s->frames)
    {
      s->done = TRUE;
      return G_SOURCE_REMOVE;
    }
  if (s->step == 0)
    s->step = (gtk_adjustment_get_upper (s->adj) - gtk_adjustment_get_page_size (s->adj)) / s->frames;
  gtk_adjustment_set_value (s->adj, (s->frame + 1) * s->step);
  s->frame++;
  return G_SOURCE_CONTINUE;
}

static void
on_update (GdkFrameClock *clock,
           Scroll        *s)
{
  s->update_at = now_us ();
}

static void
on_after_paint (GdkFrameClock *clock,
                Scroll        *s)
{
  gint64 frame_time = gdk_frame_clock_get_frame_time (clock);

  if (s->frame == 0 || s->update_at == 0)
    return;
  g_array_append_val (s->work, ((double) { (now_us () - s->update_at) / 1000.0 }));
  if (s->last_frame_time != 0)
    g_array_append_val (s->interval, ((double) { (frame_time - s->last_frame_time) / 1000.0 }));
  s->last_frame_time = frame_time;
}

static gboolean
is_mapped (GtkWidget *w)
{
  return gtk_widget_get_mapped (w);
}

/* Scrolls @scrolled (in @window, mapped) across its whole list in @frames
 * frames; prints one row. */
static void
scroll_and_report (const char        *what,
                   GtkWidget         *window,
                   GtkScrolledWindow *scrolled,
                   guint              frames,
                   guint             *out_over)
{
  Scroll s = { gtk_scrolled_window_get_vadjustment (scrolled), frames, };
  GdkFrameClock *clock;
  gulong u, p;
  guint over = 0, dropped = 0;
  double max;

  s.work = g_array_new (FALSE, FALSE, sizeof (double));
  s.interval = g_array_new (FALSE, FALSE, sizeof (double));
  clock = gtk_widget_get_frame_clock (window);
  u = g_signal_connect (clock, "update", G_CALLBACK (on_update), &s);
  p = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), &s);
  gtk_adjustment_set_value (s.adj, 0);
  gtk_widget_add_tick_callback (GTK_WIDGET (scrolled), scroll_tick, &s, NULL);
  while (!s.done)
    g_main_context_iteration (NULL, TRUE);
  g_signal_handler_disconnect (clock, u);
  g_signal_handler_disconnect (clock, p);
  for (guint i = 0; i < s.work->len; i++)
    over += g_array_index (s.work, double, i) > 16.0;
  for (guint i = 0; i < s.interval->len; i++)
    dropped += g_array_index (s.interval, double, i) > 25.0;
  max = percentile (s.work, 1.0);
  g_print ("  %-34s %6u %8.2f %8.2f %8.2f %6u   %8.2f %8.2f %6u\n", what, s.work->len, percentile (s.work, 0.5),
           percentile (s.work, 0.99), max, over, percentile (s.interval, 0.5), percentile (s.interval, 1.0), dropped);
  *out_over = over;
  g_array_unref (s.work);
  g_array_unref (s.interval);
}

static void
setup_label (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  data)
{
  gtk_list_item_set_child (item, gtk_label_new (NULL));
}

static void
bind_label (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            gpointer                  data)
{
  GtkStringObject *s = gtk_list_item_get_item (item);

  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), gtk_string_object_get_string (s));
}

static void
wait_for (gboolean (*cond) (GtkWidget *), GtkWidget *w)
{
  gint64 until = now_us () + 60 * G_USEC_PER_SEC;

  while (!cond (w))
    {
      if (now_us () > until)
        g_error ("timed out waiting for the window");
      g_main_context_iteration (NULL, TRUE);
    }
}

static gboolean
window_has_rows (GtkWidget *w)
{
  PpTerminalListModel *model = pp_inventory_page_get_model (pp_window_get_inventory_page (PP_WINDOW (w)));

  return gtk_widget_get_mapped (w) && model != NULL && !pp_terminal_list_model_get_loading (model) &&
         view_has_rows (w);
}

static void
bench_scroll (PpStore *store,
              guint    n,
              guint    frames)
{
  guint over_inventory = 0, over_plain = 0;
  GtkWidget *window;
  GtkScrolledWindow *scrolled;

  g_print ("\n2. scroll across the whole list in %u frames (%u rows), per frame:\n", frames, n);
  g_print ("  %-34s %6s %8s %8s %8s %6s   %8s %8s %6s\n", "", "frames", "p50 ms", "p99 ms", "max ms", ">16ms",
           "gap p50", "gap max", ">25ms");
  /* the baseline: a plain list of as many strings */
  {
    g_autoptr(GtkStringList) list = gtk_string_list_new (NULL);
    GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
    GtkWidget *view;

    for (guint i = 0; i < n; i++)
      {
        g_autofree char *s = g_strdup_printf ("PP%08u  Acme  X1  in stock", i + 1);

        gtk_string_list_append (list, s);
      }
    g_signal_connect (factory, "setup", G_CALLBACK (setup_label), NULL);
    g_signal_connect (factory, "bind", G_CALLBACK (bind_label), NULL);
    view = gtk_list_view_new (GTK_SELECTION_MODEL (gtk_no_selection_new (G_LIST_MODEL (g_object_ref (list)))),
                              factory);
    window = gtk_window_new ();
    gtk_window_set_default_size (GTK_WINDOW (window), 1200, 760);
    scrolled = GTK_SCROLLED_WINDOW (gtk_scrolled_window_new ());
    gtk_scrolled_window_set_child (scrolled, view);
    gtk_window_set_child (GTK_WINDOW (window), GTK_WIDGET (scrolled));
    gtk_window_present (GTK_WINDOW (window));
    wait_for (is_mapped, window);
    scroll_and_report ("GtkListView, GtkStringList (base)", window, scrolled, frames, &over_plain);
    gtk_window_destroy (GTK_WINDOW (window));
  }
  /* the station's inventory */
  {
    PpInventoryPage *page;

    window = GTK_WIDGET (pp_window_new (NULL, store));
    pp_window_sign_in (PP_WINDOW (window), "alice", PP_STORE_DEMO_PASSWORD);
    gtk_window_set_default_size (GTK_WINDOW (window), 1200, 760);
    gtk_window_present (GTK_WINDOW (window));
    wait_for (window_has_rows, window);
    page = pp_window_get_inventory_page (PP_WINDOW (window));
    scrolled = GTK_SCROLLED_WINDOW (gtk_widget_get_parent (GTK_WIDGET (pp_inventory_page_get_column_view (page))));
    scroll_and_report ("PpInventoryPage (PpWindow)", window, scrolled, frames, &over_inventory);
    g_print ("  fetches by the list model: %u\n",
             pp_terminal_list_model_get_n_fetches (pp_inventory_page_get_model (page)));
    gtk_window_destroy (GTK_WINDOW (window));
  }
  g_print ("  goal: no frame over 16 ms: %s (%u frames over in the inventory, %u in the baseline)\n",
           over_inventory == 0 ? "met" : "NOT met", over_inventory, over_plain);
}

int
main (int    argc,
      char **argv)
{
  guint n = 100000, runs = 5, frames = 1200;
  gboolean quick = FALSE;
  char **child = NULL;
  g_autofree char *keep_db = NULL;
  GOptionEntry entries[] = {
    { "terminals", 0, 0, G_OPTION_ARG_INT, &n, "Terminals in the store (100000)", "N" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "Starts each way (5)", "N" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "Frames to scroll the whole list in (1200)", "N" },
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "A small run that proves the benchmark works", NULL },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &keep_db, "Seed the store here and keep it (reused if seeded)", "PATH" },
    { "child", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING_ARRAY, &child, NULL, NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("- the station's first frame and inventory scroll");
  g_autoptr(GError) error = NULL;
  g_autoptr(PpStore) store = NULL;
  g_autoptr(GArray) first_empty = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) first_window = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) rows_window = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *dir = NULL, *db = NULL, *self = NULL;
  double load[1] = { -1 };
  gint64 t0;

  /* as the UI tests: Xvfb has no GL worth the name */
  g_setenv ("GSK_RENDERER", "cairo", FALSE);
  g_setenv ("GDK_BACKEND", "x11", FALSE);
  g_setenv ("GDK_DEBUG", "gl-disable", FALSE);
  g_setenv ("GTK_A11Y", "none", FALSE);
  g_setenv ("GSETTINGS_BACKEND", "memory", FALSE);
  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  gtk_init ();
  if (child != NULL)
    {
      if (g_strv_length (child) < 1)
        return 2;
      /* --child MODE DB: the DB is the first remaining argument */
      return run_child (child[0], argc > 1 ? argv[1] : "");
    }
  if (quick)
    {
      n = 2000;
      runs = 1;
      frames = 60;
    }
  adw_init ();
  getloadavg (load, 1);
  self = g_file_read_link ("/proc/self/exe", NULL);
  if (keep_db != NULL)
    db = g_strdup (keep_db);
  else
    {
      dir = g_dir_make_tmp ("bench-station-XXXXXX", &error);
      g_assert_no_error (error);
      db = g_build_filename (dir, "station.db", NULL);
    }
  g_print ("the station, %u terminals, load %.1f\n", n, load[0]);
  t0 = now_us ();
  store = pp_store_open (db, &error);
  g_assert_no_error (error);
  g_assert_true (pp_store_seed_demo (store, n, &error));
  g_assert_no_error (error);
  g_print ("  store seeded: %.2f s\n", (now_us () - t0) / 1e6);

  g_print ("\n1. start to first frame (exec to the window's first after-paint), %u runs each:\n", runs);
  for (guint i = 0; i < runs; i++)
    {
      double f, r;

      spawn_start (self, "empty", db, &f, &r);
      g_array_append_val (first_empty, f);
      spawn_start (self, "window", db, &f, &r);
      g_array_append_val (first_window, f);
      g_array_append_val (rows_window, r);
    }
  {
    double base = percentile (first_empty, 0.5), win = percentile (first_window, 0.5);
    double rows = percentile (rows_window, 0.5), worst = percentile (rows_window, 1.0);

    g_print ("  %-44s %8s %8s %8s\n", "", "p50 s", "max s", "ratio");
    g_print ("  %-44s %8.3f %8.3f %8.2fx\n", "empty GtkWindow (base)", base, percentile (first_empty, 1.0), 1.0);
    g_print ("  %-44s %8.3f %8.3f %8.2fx\n", "PpWindow, first frame", win, percentile (first_window, 1.0),
             win / base);
    g_print ("  %-44s %8.3f %8.3f %8.2fx\n", "PpWindow, first frame with the rows", rows, worst, rows / base);
    g_print ("  goal: first frame under 0.5 s: %s (p50 %.3f s, with rows %.3f s)\n",
             win < 0.5 ? "met" : "NOT met", win, rows);
  }

  bench_scroll (store, n, frames);

  g_clear_object (&store);
  if (dir != NULL)
    {
      g_autofree char *wal = g_strconcat (db, "-wal", NULL), *shm = g_strconcat (db, "-shm", NULL);

      g_remove (db);
      g_remove (wal);
      g_remove (shm);
      g_rmdir (dir);
    }
  g_strfreev (child);
  return 0;
}
