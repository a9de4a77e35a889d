#include "dashboard.h"

namespace etcdmon::gateway::detail {
namespace {

// Kept dependency-free (no CDN): the page must work on an isolated network.
constexpr std::string_view kHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etcd-monitor</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}
.ok{color:#070}.bad{color:#b00;font-weight:bold}.warn{color:#a60}#err{color:#b00}
.cards span{display:inline-block;background:#fff;border:1px solid #ccc;padding:.5em 1em;margin:.2em}
</style></head><body>
<h1>etcd-monitor <small id="cluster"></small></h1>
<div id="err"></div>
<div class="cards" id="status"></div>
<h2>Members</h2><table id="members"><thead><tr><th>name</th><th>endpoint</th><th>health</th>
<th>leader</th><th>raft term</th><th>revision</th><th>db size</th><th>read p99 ms</th><th>write p99 ms</th></tr></thead><tbody></tbody></table>
<h2>Latency (ms)</h2><table id="latency"><thead><tr><th></th><th>p50</th><th>p95</th><th>p99</th></tr></thead><tbody></tbody></table>
<h2>Active alerts</h2><table id="alerts"><thead><tr><th>severity</th><th>rule</th><th>member</th><th>summary</th><th>since</th></tr></thead><tbody></tbody></table>
<p><small>Refreshes every 5 s. Data: <a href="api/v1/cluster/status">status</a>,
<a href="api/v1/cluster/members">members</a>, <a href="api/v1/metrics/latency">latency</a>,
<a href="api/v1/alerts">alerts</a>, <a href="metrics">metrics</a>.</small></p>
<script>
"use strict";
function esc(v){return String(v==null?"":v).replace(/[&<>"']/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));}
function fmt(v){return v==null?"-":(typeof v==="number"?(Math.round(v*100)/100):esc(v));}
function rows(id,list){document.querySelector("#"+id+" tbody").innerHTML=list.join("");}
async function get(path){const r=await fetch(path);const j=await r.json();if(!r.ok)throw new Error(path+": "+(j.error?j.error.message:r.status));return j;}
async function refresh(){
 const errors=[];
 try{const s=await get("api/v1/cluster/status");
  document.getElementById("cluster").textContent=s.cluster+" "+s.cluster_id;
  const c=(k,v,good)=>"<span>"+k+": <b class='"+(good?"ok":"bad")+"'>"+esc(v)+"</b></span>";
  document.getElementById("status").innerHTML=c("healthy",s.healthy,s.healthy)+c("leader",s.leader?s.leader.name:"none",s.has_leader)+
   c("members",s.healthy_members+"/"+s.member_count,s.healthy_members==s.member_count)+c("quorum",s.quorum_ok?"ok":"lost",s.quorum_ok)+
   c("split brain",s.split_brain.detected,!s.split_brain.detected)+c("leader changes",s.leader_changes,true)+
   c("alarms",s.alarms.length,s.alarms.length==0)+"<span>updated "+esc(s.last_update)+"</span>"+
   (s.health_reason?"<div class='warn'>"+esc(s.health_reason)+"</div>":"");
 }catch(e){errors.push(e.message);}
 try{const m=await get("api/v1/cluster/members");
  rows("members",m.members.map(x=>"<tr><td>"+esc(x.label)+"</td><td>"+esc(x.endpoint)+"</td><td class='"+(x.health=="healthy"?"ok":"bad")+"'>"+esc(x.health)+
   (x.reason?" ("+esc(x.reason)+")":"")+"</td><td>"+(x.is_leader?"&#9733;":"")+"</td><td>"+fmt(x.raft_term)+"</td><td>"+fmt(x.revision)+"</td><td>"+fmt(x.db_size_bytes)+
   "</td><td>"+fmt(x.read_latency&&x.read_latency.p99_ms)+"</td><td>"+fmt(x.write_latency&&x.write_latency.p99_ms)+"</td></tr>"));
 }catch(e){errors.push(e.message);}
 try{const l=await get("api/v1/metrics/latency");
  const r=(n,p)=>"<tr><td>"+n+"</td><td>"+fmt(p&&p.p50_ms)+"</td><td>"+fmt(p&&p.p95_ms)+"</td><td>"+fmt(p&&p.p99_ms)+"</td></tr>";
  rows("latency",[r("read",l.read),r("write",l.write),r("wal fsync",l.wal_fsync),r("backend commit",l.backend_commit)]);
 }catch(e){errors.push(e.message);}
 try{const a=await get("api/v1/alerts");
  rows("alerts",a.alerts.length?a.alerts.map(x=>"<tr><td class='"+(x.severity=="critical"?"bad":"warn")+"'>"+esc(x.severity)+"</td><td>"+esc(x.rule)+"</td><td>"+esc(x.member)+
   "</td><td>"+esc(x.summary)+"</td><td>"+esc(x.started_at)+"</td></tr>"):["<tr><td colspan=5 class='ok'>none</td></tr>"]);
 }catch(e){errors.push(e.message);}
 document.getElementById("err").textContent=errors.join("; ");
}
refresh();setInterval(refresh,5000);
</script></body></html>
)HTML";

}  // namespace

std::string_view DashboardHtml() { return kHtml; }

}  // namespace etcdmon::gateway::detail
