# Random PromQL expressions over a fixed data set, for differential testing
# against Prometheus: python3 gen_random.py SEED N > x.in, then gen_golden.py.
import random, sys
seed = int(sys.argv[1]); n = int(sys.argv[2])
random.seed(seed)
data = '''load 15s
  m{a="1", b="x"} 0+1x80 stale 5+2x40
  m{a="2", b="x"} 10 20 _ 40 50 0 10 20 NaN 40 50+3x100
  m{a="3", b="y"} 1+0.5x30 _x10 1 2 3 -5+2x60
  g{a="1"} 3 -1 4 1 -5 9 2 6 5 3 5 8 9 7 9 3 2 3 8 4 6 2 6 4 3 3 8 3 2 7 9 5 0 2 8 8 4 1 9 7 1 6 9 3 9 9 3 7 5 1 0 5 8 2 0 9 7 4 9 4 4 5 9 2 3 0 7 8 1 6 4 0 6 2 8 6 2 0 8 9 9 8 6 2 8 0 3 4 8 2 5 3 4 2 1 1 7 0 6 7 9
  g{a="2"} 1+1.5x50 Inf 3 -Inf 5+1x50
  h_bucket{le="0.5", a="1"} 0+1x120
  h_bucket{le="1", a="1"} 0+3x120
  h_bucket{le="+Inf", a="1"} 0+4x120
  h_bucket{le="0.5", a="2"} 0+2x120
  h_bucket{le="1", a="2"} 0+2x120
  h_bucket{le="+Inf", a="2"} 0+5x120
'''
sel = ['m', 'g', 'm{a="1"}', 'm{b="x"}', 'g{a="2"}', '{__name__=~"m|g"}', 'm{a=~"1|3"}', 'h_bucket']
rng = ['30s', '1m', '2m', '90s', '5m', '7m']
rfn = ['rate', 'increase', 'delta', 'irate', 'idelta', 'deriv', 'changes', 'resets', 'avg_over_time',
       'sum_over_time', 'min_over_time', 'max_over_time', 'count_over_time', 'last_over_time',
       'stddev_over_time', 'stdvar_over_time', 'present_over_time']
ifn = ['abs', 'ceil', 'floor', 'sqrt', 'exp', 'ln', 'sgn', 'round', 'timestamp', 'log2']
aggs = ['sum', 'avg', 'min', 'max', 'count', 'stddev', 'stdvar', 'group']
ops = ['+', '-', '*', '/', '%', '^', '>', '<', '==', '!=', '>=', 'and', 'or', 'unless']
def mod():
    r = random.random()
    if r < 0.15: return ' offset ' + random.choice(['30s', '1m', '-45s', '2m'])
    if r < 0.25: return ' @ ' + str(random.choice([60, 300, 600, 1000, 1500]))
    return ''
def rangev():
    if random.random() < 0.3:
        return '(%s)[%s:%s]%s' % (vec(2), random.choice(rng), random.choice(['', '15s', '20s', '1m']), mod())
    return '%s[%s]%s' % (random.choice(sel), random.choice(rng), mod())
def vec(d=0):
    r = random.random()
    if d > 2 or r < 0.25: return random.choice(sel) + mod()
    if r < 0.45: return '%s(%s)' % (random.choice(rfn), rangev())
    if r < 0.55: return '%s(%s)' % (random.choice(ifn), vec(d+1))
    if r < 0.7:
        a = random.choice(aggs)
        g = random.choice(['', ' by (a)', ' without (b)', ' by (b)', ' without (a)'])
        return '%s%s (%s)' % (a, g, vec(d+1))
    if r < 0.75: return 'topk(%d, %s)' % (random.randint(1, 3), vec(d+1))
    if r < 0.8: return 'quantile(%s, %s)' % (random.choice(['0.3', '0.9']), vec(d+1))
    if r < 0.83: return 'histogram_quantile(%s, rate(h_bucket[%s]))' % (random.choice(['0.5', '0.9']), random.choice(rng))
    if r < 0.86: return 'clamp(%s, 1, 10)' % vec(d+1)
    if r < 0.88: return 'quantile_over_time(0.4, %s)' % rangev()
    if r < 0.89: return 'count_values("v", %s)' % vec(d+1)
    if r < 0.9: return 'label_replace(%s, "c", "$1", "a", "(.)")' % vec(d+1)
    if r < 0.91: return 'bottomk(2, %s)' % vec(d+1)
    if r < 0.92: return 'absent(%s)' % vec(d+1)
    if r < 0.93: return 'vector(scalar(%s))' % vec(d+1)
    if r < 0.94: return 'sort_desc(%s)' % vec(d+1)
    if r < 0.95:
        return '(%s) %s on(a) group_left(b) (%s)' % (vec(d+1), random.choice(['+', '*', '>', '/']), vec(d+1))
    op = random.choice(ops)
    if op in ('and', 'or', 'unless'):
        m = random.choice(['', ' on(a)', ' ignoring(b)'])
        return '(%s) %s%s (%s)' % (vec(d+1), op, m, vec(d+1))
    if random.random() < 0.3:
        b = ' bool' if op in ('>', '<', '==', '!=', '>=') and random.random() < 0.5 else ''
        return '(%s) %s%s %s' % (vec(d+1), op, b, random.choice(['2', '0.5', '-1', '0']))
    m = random.choice(['', ' on(a)', ' ignoring(b)'])
    b = ' bool' if op in ('>', '<', '==', '!=', '>=') and random.random() < 0.5 else ''
    return '(%s) %s%s%s (%s)' % (vec(d+1), op, b, m, vec(d+1))
print(data)
for i in range(n):
    t = random.choice(['0s', '1m', '5m', '10m', '17m', '20m', '25m', '30m', '33m', '40m', '-2m', '45m'])
    e = vec()
    o = '_ordered' if e.startswith(('topk', 'bottomk', 'sort')) else ''
    print('eval%s instant at %s %s' % (o, t, e))
