/* obs_tool: the few things the observability shell tests need besides the
 * sluice binary, built from the project's own dependencies (jansson,
 * libyaml) so the tests need neither curl, jq nor python.
 *
 *   obs_tool get URL [NAME=VALUE]...  HTTP GET (query parameters URL-encoded);
 *                                     body on stdout, exit 0 only on 200
 *   obs_tool free-port                a TCP port free on 127.0.0.1 right now
 *   obs_tool json PATH                reads JSON on stdin, prints the value at
 *                                     PATH (.key and [n] steps); exit 1 if absent
 *   obs_tool dashboard-exprs FILE     every PromQL expression of a Grafana
 *                                     dashboard (targets and query variables),
 *                                     one per line; exit 1 on invalid JSON or
 *                                     a malformed panel
 *   obs_tool rules-exprs FILE         every `expr` of a Prometheus rules file
 *   obs_tool promql-names             reads expressions on stdin, prints the
 *                                     metric names they select, sorted, unique
 *   obs_tool compose FILE             reads a compose file; prints
 *                                     "path P" for every host path it builds
 *                                     from or mounts (relative to the file),
 *                                     "service NAME IMAGE", "command NAME ARG",
 *                                     "scrape-port NAME PORT" (expose), and
 *                                     "error MESSAGE" for references to
 *                                     undeclared services, networks, volumes
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <yaml.h>

static int usage(void)
{
    fprintf(stderr, "usage: obs_tool get URL [NAME=VALUE]... | free-port | json PATH | "
                    "dashboard-exprs FILE | rules-exprs FILE | promql-names | compose FILE\n");
    return 2;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                */
/* ------------------------------------------------------------------ */

static void urlencode(char *out, size_t room, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < room; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, room - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static int cmd_get(int argc, char **argv)
{
    if (argc < 1)
        return usage();
    const char *url = argv[0];
    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "obs_tool get: only http:// URLs\n");
        return 2;
    }
    char host[256];
    int port = 80;
    const char *hp = url + 7, *path = strchr(hp, '/');
    if (!path)
        path = "/";
    size_t hl = (size_t)(strchr(hp, '/') ? strchr(hp, '/') - hp : (ptrdiff_t)strlen(hp));
    snprintf(host, sizeof host, "%.*s", (int)hl, hp);
    char *colon = strrchr(host, ':');
    if (colon) {
        port = atoi(colon + 1);
        *colon = '\0';
    }
    char target[8192];
    snprintf(target, sizeof target, "%s", path);
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq)
            return usage();
        char enc[4096];
        urlencode(enc, sizeof enc, eq + 1);
        size_t n = strlen(target);
        snprintf(target + n, sizeof target - n, "%s%.*s=%s", strchr(target, '?') ? "&" : "?",
                 (int)(eq - argv[i]), argv[i], enc);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "obs_tool get: host must be an IPv4 address: %s\n", host);
        return 2;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("obs_tool get: connect");
        return 1;
    }
    char req[9000];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", target, host);
    if (write(fd, req, (size_t)n) != n)
        return 1;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (sscanf(buf, "HTTP/%*s %d", &status) != 1 || !body) {
        fprintf(stderr, "obs_tool get: no HTTP response from %s\n", url);
        free(buf);
        return 1;
    }
    body += 4;
    fwrite(body, 1, len - (size_t)(body - buf), stdout);
    free(buf);
    if (status != 200) {
        fprintf(stderr, "obs_tool get: HTTP %d from %s\n", status, url);
        return 1;
    }
    return 0;
}

static int cmd_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
        return 1;
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

static int cmd_json(const char *path)
{
    json_error_t e;
    json_t *root = json_loadf(stdin, 0, &e), *v = root;
    if (!root) {
        fprintf(stderr, "obs_tool json: %s (line %d)\n", e.text, e.line);
        return 1;
    }
    const char *p = path;
    while (v && *p) {
        if (*p == '.') {
            p++;
            size_t n = strcspn(p, ".[");
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)n, p);
            v = json_object_get(v, key);
            p += n;
        } else if (*p == '[') {
            char *end;
            long i = strtol(p + 1, &end, 10);
            if (*end != ']') {
                v = NULL;
                break;
            }
            v = json_array_get(v, (size_t)i);
            p = end + 1;
        } else {
            v = NULL;
        }
    }
    int rc = 0;
    if (!v || json_is_null(v))
        rc = 1;
    else if (json_is_string(v))
        printf("%s\n", json_string_value(v));
    else if (json_is_integer(v))
        printf("%lld\n", (long long)json_integer_value(v));
    else if (json_is_real(v))
        printf("%.17g\n", json_real_value(v));
    else if (json_is_boolean(v))
        printf("%s\n", json_is_true(v) ? "true" : "false");
    else {
        char *s = json_dumps(v, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
    }
    json_decref(root);
    return rc;
}

static void print_expr(const char *s)
{
    for (; *s; s++)
        putchar(*s == '\n' || *s == '\r' ? ' ' : *s);
    putchar('\n');
}

/* Walks panels (and rows' nested panels); every target needs refId and a
 * non-empty expr, every panel a unique id. */
static int walk_panels(json_t *panels, int *ids, size_t *nids)
{
    int bad = 0;
    size_t i;
    json_t *p;
    json_array_foreach(panels, i, p) {
        json_t *id = json_object_get(p, "id");
        const char *title = json_string_value(json_object_get(p, "title"));
        if (!json_is_integer(id)) {
            fprintf(stderr, "panel \"%s\" has no integer id\n", title ? title : "?");
            bad = 1;
        } else {
            for (size_t k = 0; k < *nids; k++)
                if (ids[k] == (int)json_integer_value(id)) {
                    fprintf(stderr, "panel id %d used twice\n", ids[k]);
                    bad = 1;
                }
            if (*nids < 1024)
                ids[(*nids)++] = (int)json_integer_value(id);
        }
        if (!json_is_object(json_object_get(p, "gridPos"))) {
            fprintf(stderr, "panel \"%s\" has no gridPos\n", title ? title : "?");
            bad = 1;
        }
        size_t j;
        json_t *t;
        json_array_foreach(json_object_get(p, "targets"), j, t) {
            const char *expr = json_string_value(json_object_get(t, "expr"));
            if (!expr || !*expr || !json_is_string(json_object_get(t, "refId"))) {
                fprintf(stderr, "panel \"%s\": target %zu lacks expr or refId\n",
                        title ? title : "?", j);
                bad = 1;
                continue;
            }
            print_expr(expr);
        }
        bad |= walk_panels(json_object_get(p, "panels"), ids, nids);
    }
    return bad;
}

static int cmd_dashboard_exprs(const char *file)
{
    json_error_t e;
    json_t *root = json_load_file(file, 0, &e);
    if (!root) {
        fprintf(stderr, "%s:%d: %s\n", file, e.line, e.text);
        return 1;
    }
    int ids[1024];
    size_t nids = 0;
    int bad = walk_panels(json_object_get(root, "panels"), ids, &nids);
    if (nids == 0) {
        fprintf(stderr, "%s: no panels\n", file);
        bad = 1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(root, "annotations"), "list"), i, v) {
        const char *expr = json_string_value(json_object_get(v, "expr"));
        if (expr)
            print_expr(expr);
    }
    json_array_foreach(json_object_get(json_object_get(root, "templating"), "list"), i, v) {
        const char *type = json_string_value(json_object_get(v, "type"));
        if (!type || strcmp(type, "query") != 0)
            continue;
        json_t *q = json_object_get(v, "query");
        const char *s = json_is_string(q) ? json_string_value(q)
                                          : json_string_value(json_object_get(q, "query"));
        if (s && !strncmp(s, "label_values(", 13)) {
            /* Grafana's label_values(SELECTOR, LABEL): only SELECTOR is
             * PromQL; the one-argument form names a label only. */
            const char *a = s + 13, *comma = NULL;
            int depth = 0;
            for (const char *c = a; *c && !(depth == 0 && *c == ')'); c++) {
                if (*c == '{' || *c == '(')
                    depth++;
                else if (*c == '}' || *c == ')')
                    depth--;
                else if (*c == ',' && depth == 0)
                    comma = c;
            }
            if (comma)
                printf("%.*s\n", (int)(comma - a), a);
        } else if (s) {
            print_expr(s);
        }
    }
    json_decref(root);
    return bad;
}

/* ------------------------------------------------------------------ */
/* PromQL: which names select metrics                                   */
/* ------------------------------------------------------------------ */

static int is_id_start(int c) { return isalpha(c) || c == '_' || c == ':'; }
static int is_id_char(int c) { return isalnum(c) || c == '_' || c == ':'; }

static const char *skip_balanced(const char *p, char open, char close)
{
    int depth = 0;
    for (; *p; p++) {
        if (*p == '"' || *p == '\'' || *p == '`') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                return p;
            continue;
        }
        if (*p == open)
            depth++;
        else if (*p == close && --depth == 0)
            return p + 1;
    }
    return p;
}

static char **names;
static size_t n_names;

static void add_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n_names; i++)
        if (strlen(names[i]) == n && !strncmp(names[i], s, n))
            return;
    names = realloc(names, (n_names + 1) * sizeof *names);
    names[n_names] = malloc(n + 1);
    memcpy(names[n_names], s, n);
    names[n_names++][n] = '\0';
}

static void promql_names(const char *p)
{
    static const char *const keywords[] = {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
        "unless", "offset", "inf", "nan", "Inf", "NaN", "atan2", NULL};
    static const char *const label_lists[] = {"by", "without", "on", "ignoring", "group_left",
                                              "group_right", NULL};
    while (*p) {
        if (*p == '"' || *p == '\'' || *p == '`') {
            char q = *p;
            for (p++; *p && *p != q; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else if (*p == '{') {
            p = skip_balanced(p, '{', '}');
        } else if (*p == '[') {
            p = skip_balanced(p, '[', ']');
        } else if (*p == '$') {
            /* Grafana variables: $x, ${x}, [[x]] */
            p++;
            if (*p == '{')
                p = skip_balanced(p, '{', '}');
            else
                while (is_id_char((unsigned char)*p))
                    p++;
        } else if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
            while (isalnum((unsigned char)*p) || *p == '.' ||
                   ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
                p++;
        } else if (is_id_start((unsigned char)*p)) {
            const char *s = p;
            while (is_id_char((unsigned char)*p))
                p++;
            size_t n = (size_t)(p - s);
            const char *q = p;
            while (isspace((unsigned char)*q))
                q++;
            int kw = 0, list = 0;
            for (int i = 0; keywords[i]; i++)
                if (strlen(keywords[i]) == n && !strncmp(s, keywords[i], n))
                    kw = 1;
            for (int i = 0; label_lists[i]; i++)
                if (strlen(label_lists[i]) == n && !strncmp(s, label_lists[i], n))
                    list = 1;
            /* "sum by (x) (...)": an aggregation, not a metric. */
            int agg = (!strncmp(q, "by", 2) || !strncmp(q, "without", 7)) &&
                      !is_id_char((unsigned char)q[*q == 'b' ? 2 : 7]);
            if (list && *q == '(')
                p = skip_balanced(q, '(', ')');
            else if (!kw && !agg && *q != '(')
                add_name(s, n);
        } else {
            p++;
        }
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_promql_names(void)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0)
        promql_names(line);
    free(line);
    qsort(names, n_names, sizeof *names, cmp_str);
    for (size_t i = 0; i < n_names; i++)
        printf("%s\n", names[i]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* YAML (rules and compose files)                                      */
/* ------------------------------------------------------------------ */

static yaml_document_t doc;

static yaml_node_t *node(int i) { return i ? yaml_document_get_node(&doc, i) : NULL; }

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* The value of `key` in a mapping, honouring "<<" merge keys (the compose
 * file's x-sluice anchor). */
static yaml_node_t *get(yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    yaml_node_t *merged = NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = scalar(node(p->key));
        if (k && !strcmp(k, key))
            return node(p->value);
        if (k && !strcmp(k, "<<"))
            merged = get(node(p->value), key);
    }
    return merged;
}

static int load_yaml(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return -1;
    }
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int ok = yaml_parser_load(&parser, &doc);
    if (!ok)
        fprintf(stderr, "%s:%zu:%zu: %s\n", file, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "bad YAML");
    yaml_parser_delete(&parser);
    fclose(f);
    if (ok && !yaml_document_get_root_node(&doc)) {
        fprintf(stderr, "%s: empty document\n", file);
        yaml_document_delete(&doc);
        return -1;
    }
    return ok ? 0 : -1;
}

static int cmd_rules_exprs(const char *file)
{
    if (load_yaml(file) != 0)
        return 1;
    yaml_node_t *groups = get(yaml_document_get_root_node(&doc), "groups");
    int n = 0;
    if (groups && groups->type == YAML_SEQUENCE_NODE)
        for (yaml_node_item_t *g = groups->data.sequence.items.start;
             g < groups->data.sequence.items.top; g++) {
            yaml_node_t *rules = get(node(*g), "rules");
            if (!rules || rules->type != YAML_SEQUENCE_NODE)
                continue;
            for (yaml_node_item_t *r = rules->data.sequence.items.start;
                 r < rules->data.sequence.items.top; r++) {
                const char *e = scalar(get(node(*r), "expr"));
                if (e) {
                    print_expr(e);
                    n++;
                }
            }
        }
    yaml_document_delete(&doc);
    if (!n)
        fprintf(stderr, "%s: no rules\n", file);
    return n ? 0 : 1;
}

static int has_key(yaml_node_t *map, const char *key) { return get(map, key) != NULL; }

static char base_dir[4096];

static void print_path(const char *p)
{
    if (p[0] == '/')
        printf("path %s\n", p);
    else
        printf("path %s/%s\n", base_dir, p);
}

/* A service's volumes: bind mounts print their source, named volumes must
 * be declared at the top level. */
static void service_volumes(const char *svc, yaml_node_t *vols, yaml_node_t *top_vols)
{
    if (!vols || vols->type != YAML_SEQUENCE_NODE)
        return;
    for (yaml_node_item_t *it = vols->data.sequence.items.start; it < vols->data.sequence.items.top;
         it++) {
        yaml_node_t *v = node(*it);
        char src[4096];
        const char *s = scalar(v);
        if (s) {
            const char *colon = strchr(s, ':');
            snprintf(src, sizeof src, "%.*s", (int)(colon ? colon - s : (ptrdiff_t)strlen(s)), s);
        } else {
            const char *ls = scalar(get(v, "source"));
            if (!ls)
                continue;
            snprintf(src, sizeof src, "%s", ls);
        }
        if (src[0] == '.' || src[0] == '/' || src[0] == '~')
            print_path(src);
        else if (!has_key(top_vols, src))
            printf("error service %s mounts volume \"%s\", not declared under volumes:\n", svc,
                   src);
    }
}

static int cmd_compose(const char *file)
{
    snprintf(base_dir, sizeof base_dir, "%s", file);
    char *slash = strrchr(base_dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(base_dir, sizeof base_dir, ".");
    if (load_yaml(file) != 0)
        return 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *services = get(root, "services"), *nets = get(root, "networks"),
                *vols = get(root, "volumes");
    if (!services || services->type != YAML_MAPPING_NODE) {
        printf("error no services\n");
        yaml_document_delete(&doc);
        return 1;
    }
    for (yaml_node_pair_t *p = services->data.mapping.pairs.start;
         p < services->data.mapping.pairs.top; p++) {
        const char *name = scalar(node(p->key));
        yaml_node_t *svc = node(p->value);
        const char *image = scalar(get(svc, "image"));
        printf("service %s %s\n", name, image ? image : "-");
        yaml_node_t *build = get(svc, "build");
        if (scalar(build)) {
            print_path(scalar(build));
        } else if (build) {
            const char *ctx = scalar(get(build, "context"));
            const char *df = scalar(get(build, "dockerfile"));
            char path[4096];
            if (!ctx)
                ctx = ".";
            print_path(ctx);
            snprintf(path, sizeof path, "%s/%s", ctx, df ? df : "Dockerfile");
            print_path(path);
        }
        service_volumes(name, get(svc, "volumes"), vols);
        yaml_node_t *ef = get(svc, "env_file");
        if (scalar(ef))
            print_path(scalar(ef));
        yaml_node_t *cmd = get(svc, "command");
        if (cmd && cmd->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = cmd->data.sequence.items.start;
                 it < cmd->data.sequence.items.top; it++)
                if (scalar(node(*it))) {
                    printf("command %s ", name);
                    print_expr(scalar(node(*it)));
                }
        yaml_node_t *expose = get(svc, "expose");
        if (expose && expose->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = expose->data.sequence.items.start;
                 it < expose->data.sequence.items.top; it++)
                if (scalar(node(*it)))
                    printf("scrape-port %s %s\n", name, scalar(node(*it)));
        yaml_node_t *ports = get(svc, "ports");
        if (ports && ports->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = ports->data.sequence.items.start;
                 it < ports->data.sequence.items.top; it++)
                if (scalar(node(*it)))
                    printf("publish %s %s\n", name, scalar(node(*it)));
        if (!get(svc, "healthcheck") && !get(svc, "restart"))
            printf("error service %s has neither a healthcheck nor a restart policy\n", name);
        if (!get(svc, "healthcheck"))
            printf("no-healthcheck %s\n", name);
        yaml_node_t *dep = get(svc, "depends_on");
        if (dep && dep->type == YAML_MAPPING_NODE)
            for (yaml_node_pair_t *d = dep->data.mapping.pairs.start; d < dep->data.mapping.pairs.top;
                 d++) {
                const char *dn = scalar(node(d->key));
                if (!has_key(services, dn))
                    printf("error service %s depends on unknown service %s\n", name, dn);
                const char *cond = scalar(get(node(d->value), "condition"));
                if (cond && !strcmp(cond, "service_healthy") && !get(get(services, dn), "healthcheck"))
                    printf("error service %s waits for %s to be healthy, which has no healthcheck\n",
                           name, dn);
            }
        yaml_node_t *sn = get(svc, "networks");
        if (sn && sn->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = sn->data.sequence.items.start;
                 it < sn->data.sequence.items.top; it++)
                if (!has_key(nets, scalar(node(*it))))
                    printf("error service %s uses undeclared network %s\n", name,
                           scalar(node(*it)));
        if (!sn)
            printf("network-default %s\n", name);
        else if (sn->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *it = sn->data.sequence.items.start;
                 it < sn->data.sequence.items.top; it++)
                printf("network %s %s\n", name, scalar(node(*it)));
    }
    yaml_document_delete(&doc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *c = argv[1];
    if (!strcmp(c, "get"))
        return cmd_get(argc - 2, argv + 2);
    if (!strcmp(c, "free-port"))
        return cmd_free_port();
    if (!strcmp(c, "json") && argc == 3)
        return cmd_json(argv[2]);
    if (!strcmp(c, "dashboard-exprs") && argc == 3)
        return cmd_dashboard_exprs(argv[2]);
    if (!strcmp(c, "rules-exprs") && argc == 3)
        return cmd_rules_exprs(argv[2]);
    if (!strcmp(c, "promql-names") && argc == 2)
        return cmd_promql_names();
    if (!strcmp(c, "compose") && argc == 3)
        return cmd_compose(argv[2]);
    return usage();
}
